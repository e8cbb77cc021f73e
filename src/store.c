/* placeholder: being written */
#include "config.h"
#include "store.h"
