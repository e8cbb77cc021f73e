/* placeholder: being written */
#include "config.h"
#include "fernet.h"
