/* Names of the parts of an iteration that abp bench times (see include/abp/profile.h). */
#include "abp/profile.h"

const char *abp_part_name(abp_part part) {
    static const char *names[ABP_PART_COUNT] = {"gemm", "im2col", "col2im", "reorder", "batchnorm",
                                                "pointwise", "langevin", "optimizer"};
    return part >= 0 && part < ABP_PART_COUNT ? names[part] : "?";
}
