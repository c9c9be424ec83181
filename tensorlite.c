#define TL_IMPLEMENTATION
#include "tensorlite.h"
