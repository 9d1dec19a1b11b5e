/* abp — the classify objective (issue 11 §4): a small ConvNet with a softmax cross-entropy
 * head, trained on labelled images by `abp train --objective classify --labels FILE`, and
 * its penultimate activations as the feature map of `abp score --features CKPT`.
 * docs/objectives.md#classify is the manual. */
#ifndef ABP_CLASSIFY_H
#define ABP_CLASSIFY_H

#include <stdint.h>

#include "abp/error.h"
#include "abp/score.h"

/* The classify objective's own options (one member of abp_train_cfg). */
typedef struct abp_classify_cfg {
    char labels[1024];      /* IDX labels of --data, one per example, in order */
    char test_data[1024];   /* optional held-out images: accuracy printed at the end */
    char test_labels[1024]; /* their IDX labels */
    char model[4096];       /* the classifier: a built-in name (classify28) or a spec */
} abp_classify_cfg;

void abp_classify_defaults(abp_classify_cfg *c);
/* Its /config lines ("--labels=...\n" ...), appended to out (cap bytes); nothing when
 * labels is empty. Only --objective classify writes it (its vtable's format, classify.c). */
void abp_classify_format(const abp_classify_cfg *c, char *out, size_t cap);
/* Takes one /config key; returns 1 if it was the classifier's. */
int abp_classify_parse(abp_classify_cfg *c, const char *key, const char *value);

/* The loss: the softmax cross-entropy of n examples, logits CNS [K][n] (a vector output of
 * K classes), one label below K per example. Returns the sum over the examples of
 * -log p[label], p = softmax(logits) computed by log-sum-exp (no overflow for any finite
 * logits). dlogits (if not NULL) gets its gradient times scale, (p - onehot(label)) * scale;
 * *correct (if not NULL) counts the examples whose largest logit is their label's. */
double abp_classify_loss(const float *logits, const uint8_t *labels, int n, int K, float *dlogits, float scale,
                         int *correct);

/* The feature map of a classifier checkpoint (its /classifier network): features are the
 * activations before the last linear layer, and probs the softmax of its output. A
 * checkpoint without /classifier (a generator's) is one error naming the file. */
ABP_MUST_CHECK int abp_features_classifier(const char *path, abp_features *f, abp_err *err);

#endif
