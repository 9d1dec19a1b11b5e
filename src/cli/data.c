/* What several commands do first with --data: the first N examples of a data set. */
#include "abp/io.h"
#include "cli.h"

int cli_load_first(const char *path, int64_t limit, int c, int h, int w, abp_images *im, abp_err *err) {
    abp_data_info info;
    if (abp_data_probe(path, &info, err)) return -1;
    int64_t n = limit > 0 && limit < info.n ? limit : info.n;
    return abp_data_load(path, 0, n, c, h, w, im, err);
}
