/*
 * fuzz_config.c — libFuzzer harness for ternd's config file parser (config.c, `--config
 * FILE`: lines 'name = value', '#' comments). The input is written to a scratch file and
 * loaded through config_load, as ternd does at start; any input must give a config or a
 * clear error, never a crash or a read past a line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/tern-fuzz-config-%d", (int)getpid());
        unsetenv("TERN_CONFIG");
        /* The parser's complaints, one per bad input, go nowhere; crash reports still
         * reach stderr. */
        config_set_error_stream(fopen("/dev/null", "w"));
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    char arg0[] = "ternd", arg1[] = "--config";
    char *argv[] = {arg0, arg1, path, NULL};
    config c;
    (void)config_load(&c, 3, argv);
    return 0;
}
