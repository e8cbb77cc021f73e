/* placeholder: being written */
#include "config.h"
#include "secrets.h"
