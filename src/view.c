/* placeholder: being written */
#include "config.h"
#include "view.h"
