#!/usr/bin/env bash
# (being written)
exit 77
