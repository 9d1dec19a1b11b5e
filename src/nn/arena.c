/* One parameter arena for several networks: their parameters in one buffer, their
 * gradients in another, so that training has one allreduce and each optimizer one loop over
 * its network's slice (DESIGN §8). It lives with the networks because it is a statement
 * about their memory (where the layers' views point), not about training. */
#include <string.h>

#include "abp/nn.h"

/* A view that pointed into [old, old + n) now points at the same offset from new. */
static float *move_view(float *view, const float *old, float *new) {
    return view ? new + (view - old) : NULL;
}

int abp_arena_adopt(abp_arena *arena, abp_net *const *nets, int n, abp_err *err) {
    memset(arena, 0, sizeof *arena);
    for (int k = 0; k < n; k++) {
        if (nets[k]->in_arena) return abp_fail(err, "network %d is already in an arena", k);
        arena->nparams += nets[k]->nparams;
    }
    /* + 1: a model of no parameters still gets real buffers */
    arena->params = abp_calloc(sizeof(float) * (size_t)(arena->nparams + 1), err);
    arena->grads = arena->params ? abp_calloc(sizeof(float) * (size_t)(arena->nparams + ABP_NET_GRAD_EXTRA), err) : NULL;
    if (!arena->grads) {
        abp_arena_free(arena);
        return abp_fail_wrap(err, "the parameter arena (%lld parameters)", (long long)arena->nparams);
    }
    int64_t offset = 0;
    for (int k = 0; k < n; k++) {
        abp_net *net = nets[k];
        float *p = arena->params + offset, *g = arena->grads + offset;
        memcpy(p, net->params, sizeof(float) * (size_t)net->nparams);
        for (int i = 0; i < net->nlayers; i++) {
            abp_layer *l = &net->layers[i];
            l->weight = move_view(l->weight, net->params, p);
            l->bias = move_view(l->bias, net->params, p);
            l->dweight = move_view(l->dweight, net->grads, g);
            l->dbias = move_view(l->dbias, net->grads, g);
        }
        abp_free(net->params);
        abp_free(net->grads);
        net->params = p, net->grads = g;
        net->in_arena = 1;
        offset += net->nparams;
    }
    return 0;
}

void abp_arena_free(abp_arena *arena) {
    abp_free(arena->params);
    abp_free(arena->grads);
    memset(arena, 0, sizeof *arena);
}

void abp_arena_zero_grads(abp_arena *arena) {
    memset(arena->grads, 0, sizeof(float) * (size_t)(arena->nparams + ABP_NET_GRAD_EXTRA));
}
