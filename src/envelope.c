/* placeholder: being written */
#include "config.h"
#include "envelope.h"
