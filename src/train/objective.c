/* The table of objectives: --objective NAME picks one. */
#include <string.h>

#include "objective.h"

static const abp_objective_ops *const objectives[] = {&abp_objective_abp, &abp_objective_iabp, &abp_objective_vae,
                                                      &abp_objective_descriptor, &abp_objective_classify,
                                                      &abp_objective_coop};
#define NUM_OBJECTIVES (int)(sizeof objectives / sizeof objectives[0])

const abp_objective_ops *abp_objective_find(const char *name) {
    for (int k = 0; k < NUM_OBJECTIVES; k++)
        if (strcmp(objectives[k]->name, name) == 0) return objectives[k];
    return NULL;
}

const char *abp_objective_names(void) { return "abp, iabp, vae, descriptor, classify, coop"; }

int abp_train_has_objective(const char *name) { return abp_objective_find(name) != NULL; }
const char *abp_train_objectives(void) { return abp_objective_names(); }
