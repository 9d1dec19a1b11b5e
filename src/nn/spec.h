/* Private to src/nn: the model spec parser (spec.c). */
#ifndef ABP_NN_SPEC_H
#define ABP_NN_SPEC_H

#include "abp/nn.h"

/* Parses spec into a malloc'd layer array with shapes and hyper-parameters filled in.
 * latent_dim > 0 replaces the spec's latent by a vector of that size. */
int abp_spec_parse(const char *spec, int latent_dim, abp_layer **layers, int *nlayers,
                   abp_shape *latent, abp_err *err);

/* The canonical spec of a layer list (every default written out); malloc'd. */
char *abp_spec_format(const abp_layer *layers, int n, abp_shape latent);

const char *abp_layer_kind_name(abp_layer_kind k);

#endif
