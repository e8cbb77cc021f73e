/* placeholder: being written */
#include "config.h"
#include "secure.h"
