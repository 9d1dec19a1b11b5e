/* abp info: what a checkpoint or a data set holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/io.h"
#include "cli.h"
#include "options.h"

static void print_dims(const int64_t *dims, int ndim) {
    for (int k = 0; k < ndim; k++) printf("%s%lld", k ? "x" : "", (long long)dims[k]);
}

/* A network's group is any top-level group but /optimizer (moments) and /chains (state). */
static int is_network_group(const char *path) {
    return strncmp(path, "optimizer/", 10) != 0 && strncmp(path, "chains/", 7) != 0 && strncmp(path, "state/", 6) != 0;
}

static int is_parameter(const char *path) { return is_network_group(path) && !strstr(path, "running_"); }

/* One line per network group (the generator is /model, DESIGN §8) with its parameter count,
 * then the per-chain state datasets. */
static void print_networks(const abp_ckpt_array *arrays, int narrays) {
    printf("  networks:\n");
    for (int k = 0; k < narrays; k++) {
        const char *slash = strchr(arrays[k].path, '/');
        int len = (int)(slash - arrays[k].path);
        if (!is_network_group(arrays[k].path)) continue;
        int seen = 0;
        for (int j = 0; j < k && !seen; j++)
            seen = !strncmp(arrays[j].path, arrays[k].path, (size_t)len + 1);
        if (seen) continue;
        int64_t params = 0;
        for (int j = k; j < narrays; j++) {
            if (strncmp(arrays[j].path, arrays[k].path, (size_t)len + 1) || !is_parameter(arrays[j].path)) continue;
            int64_t count = 1;
            for (int i = 0; i < arrays[j].ndim; i++) count *= arrays[j].dims[i];
            params += count;
        }
        int generator = len == 5 && !strncmp(arrays[k].path, "model", 5);
        printf("    %-12.*s /%.*s, %lld parameters\n", generator ? 9 : len, generator ? "generator" : arrays[k].path,
               len, arrays[k].path, (long long)params);
    }
    for (int k = 0; k < narrays; k++)
        if (!strncmp(arrays[k].path, "chains/", 7) || !strncmp(arrays[k].path, "state/", 6)) {
            printf("  persistent state: /%s ", arrays[k].path);
            print_dims(arrays[k].dims, arrays[k].ndim);
            printf("\n");
        }
}

static int info_checkpoint(const char *path, int verify, abp_err *err) {
    abp_ckpt *ck;
    abp_ckpt_meta meta;
    if (abp_ckpt_open(MPI_COMM_SELF, path, &ck, &meta, err)) return -1;
    if (verify) {
        /* Only the verdict: a script can test the exit status. */
        int datasets = 0;
        int rc = abp_ckpt_verify(ck, &datasets, err);
        if (rc == 0) printf("%s: verified, the checksums of all %d datasets match\n", path, datasets);
        abp_ckpt_close(ck);
        return rc;
    }
    int64_t n, dims[4];
    int ndim;
    abp_ckpt_array *arrays = NULL;
    int narrays = 0;
    if (abp_ckpt_latent_shape(ck, &n, &ndim, dims, err) || abp_ckpt_list(ck, &arrays, &narrays, err)) {
        abp_ckpt_close(ck);
        return -1;
    }
    printf("%s: abp checkpoint\n", path);
    printf("  iteration %lld, epoch %lld, seed %llu, written by %d rank%s\n", (long long)meta.iteration,
           (long long)meta.epoch, (unsigned long long)meta.seed, meta.world_size, meta.world_size > 1 ? "s" : "");
    printf("  optimizer %s, step %lld\n", meta.optimizer, (long long)meta.optimizer_step);
    printf("  latents: %lld examples x ", (long long)n);
    print_dims(dims, ndim);
    printf("\n  settings:\n");
    for (const char *line = meta.config; line && *line;) {
        const char *end = strchr(line, '\n');
        int len = end ? (int)(end - line) : (int)strlen(line);
        printf("    %.*s\n", len, line);
        line += len + (end ? 1 : 0);
    }
    int64_t total = 0;
    printf("  arrays:\n");
    for (int k = 0; k < narrays; k++) {
        int64_t count = 1;
        for (int j = 0; j < arrays[k].ndim; j++) count *= arrays[k].dims[j];
        if (is_parameter(arrays[k].path)) total += count;
        printf("    %-40s ", arrays[k].path);
        print_dims(arrays[k].dims, arrays[k].ndim);
        printf("\n");
    }
    print_networks(arrays, narrays);
    printf("  %lld trained parameters\n", (long long)total);
    free(arrays);
    abp_ckpt_close(ck);
    return 0;
}

int cmd_info(int argc, char **argv, abp_dist *d, abp_err *err) {
    int help = 0, npos = 0, verify = 0;
    char *pos[1];
    cli_option opts[] = {
        {"verify", OPT_FLAG, &verify, 0, 0, 0, NULL, "of a checkpoint: read every dataset and check it against its checksum (exit 1 naming the first damaged one)", 0, 0},
    };
    if (cli_parse("info", argc, argv, 2, opts, 1, pos, 1, &npos, &help, err)) return EXIT_USAGE;
    if (help || npos == 0) {
        if (d->rank == 0)
            cli_usage("info", "FILE [--verify]", "Says what a checkpoint (model, settings, latents) or a data set\n"
                      "(IDX file, HDF5 data set from abp prepare, image folder, image) holds.", opts, 1);
        if (!help) {
            abp_fail(err, "abp info: which file? (abp info FILE)");
            return EXIT_USAGE;
        }
        return EXIT_OK;
    }
    if (d->rank != 0) return EXIT_OK;
    const char *path = pos[0];
    FILE *f = fopen(path, "rb");
    unsigned char magic[8] = {0};
    int is_hdf5 = 0;
    if (f) {
        is_hdf5 = fread(magic, 1, 8, f) == 8 && !memcmp(magic, "\x89HDF\r\n\x1a\n", 8);
        fclose(f);
    }
    /* An HDF5 file is a checkpoint or a data set (abp prepare): its format attribute says
     * which. Any other .h5 goes to the data set reader, whose message says what is missing. */
    char format[64] = "";
    if (is_hdf5 && abp_h5_format(path, format, sizeof format, err)) return EXIT_FAILED;
    if (!strcmp(format, "abp-checkpoint")) return info_checkpoint(path, verify, err) ? EXIT_FAILED : EXIT_OK;
    if (verify) {
        abp_fail(err, "abp info --verify: %s is not an abp checkpoint (only checkpoints carry checksums)", path);
        return EXIT_FAILED;
    }
    abp_data_info info;
    if (abp_data_probe(path, &info, err)) return EXIT_FAILED;
    printf("%s: %s data, %lld examples of %dx%dx%d (h x w x c)\n", path, info.kind, (long long)info.n,
           info.h, info.w, info.c);
    if (!strcmp(info.kind, "hdf5"))
        printf("  /images uint8 [%lld, %d, %d, %d], one chunk per example; /examples: the source of each row\n",
               (long long)info.n, info.h, info.w, info.c);
    if (info.has_masks)
        printf("  /masks uint8 [%lld, %d, %d, %d]: its own observation masks (1 observed, 0 missing), used by train and complete\n",
               (long long)info.n, info.h, info.w, info.c);
    if (info.has_labels)
        printf("  /labels: a label per example (abp prepare --labels), for abp train --objective classify --labels %s\n",
               path);
    return EXIT_OK;
}
