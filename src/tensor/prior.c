/* The names of the latent priors: "normal", "gaussian", "gmm:K", "ebm". */
#include <stdio.h>
#include <string.h>

#include "abp/prior.h"

int abp_prior_parse(const char *text, const char *what, abp_prior_choice *choice, abp_err *err) {
    memset(choice, 0, sizeof *choice);
    if (!strcmp(text, "normal")) {
        choice->kind = ABP_PRIOR_NORMAL;
        return 0;
    }
    if (!strcmp(text, "gaussian")) {
        choice->kind = ABP_PRIOR_GAUSSIAN;
        choice->k = 1;
        return 0;
    }
    if (!strcmp(text, "ebm")) {
        choice->kind = ABP_PRIOR_EBM;
        return 0;
    }
    if (!strncmp(text, "gmm:", 4)) {
        int k;
        char tail;
        if (sscanf(text + 4, "%d%c", &k, &tail) != 1)
            return abp_fail(err, "%s: '%s': K of gmm:K must be a whole number (e.g. gmm:10)", what, text);
        if (k < 1 || k > 10000)
            return abp_fail(err, "%s: '%s': a mixture needs 1 to 10000 components", what, text);
        choice->kind = ABP_PRIOR_GMM;
        choice->k = k;
        return 0;
    }
    return abp_fail(err, "%s: '%s' is not a prior (normal, gaussian, gmm:K or ebm)", what, text);
}

void abp_prior_format(const abp_prior_choice *choice, char *buf, int size) {
    if (choice->kind == ABP_PRIOR_NORMAL) snprintf(buf, (size_t)size, "normal");
    else if (choice->kind == ABP_PRIOR_GAUSSIAN) snprintf(buf, (size_t)size, "gaussian");
    else if (choice->kind == ABP_PRIOR_EBM) snprintf(buf, (size_t)size, "ebm");
    else snprintf(buf, (size_t)size, "gmm:%d", choice->k);
}
