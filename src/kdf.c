/* placeholder: being written */
#include "config.h"
#include "kdf.h"
