/* The data loader on HDF5 data sets made by abp prepare (opened with the sec2 driver). */
#define FUZZ_SUFFIX ".h5"
#include "data_loader.c"
