/*
 * fuzz_json.c — libFuzzer harness for the bytes of a protocol frame.
 *
 * For now it exercises what a text frame meets first: UTF-8 validation and cJSON's
 * length-bounded parser (the input is copied to an exactly sized buffer, not
 * NUL-terminated, so ASan catches any read past its length).
 *
 * The protocol path proper (message validation and authorization on a parsed request)
 * is fuzzed by fuzz_proto.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/alloc.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = tern_malloc(size ? size : 1);
    if (size)
        memcpy(copy, data, size);
    cJSON *root = cJSON_ParseWithLength(copy, size);
    if (root) {
        char *out = cJSON_PrintUnformatted(root);
        if (out)
            cJSON_free(out);
        cJSON_Delete(root);
    }
    (void)tern_utf8_valid((const uint8_t *)copy, size);
    tern_free(copy);
    return 0;
}
