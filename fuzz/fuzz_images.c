/* The data loader on images, through stb with abp's formats and pixel limit. */
#define FUZZ_SUFFIX ".png"
#include "data_loader.c"
