/* placeholder: being written */
#include "config.h"
#include "ttl.h"
