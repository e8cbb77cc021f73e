/* placeholder: being written */
#include "config.h"
#include "cache.h"
