/* The data loader on IDX files (no suffix: detected by magic). */
#include "data_loader.c"
