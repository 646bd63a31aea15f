/*
 * answer.c — REST answers as the `tern` CLI shows them: the items of an answer (Easemob's
 * `entities`, else `data`) as an aligned table — one row per object, times local, booleans
 * as yes/no, group members as USER ROLE — or with --json one JSON object per line.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* What an answer carries: Easemob's `entities` array when it has items (users), else
 * `data` (Tern's answers; Easemob's group creation has an empty entities beside
 * data.groupid), else entities, else the root. */
static const cJSON *answer_items(const cJSON *root)
{
    const cJSON *ent = cJSON_GetObjectItemCaseSensitive(root, "entities");
    if (cJSON_IsArray(ent) && cJSON_GetArraySize(ent) > 0)
        return ent;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    return data ? data : ent ? ent : root;
}

static int time_key(const char *k)
{
    return !strcmp(k, "created") || !strcmp(k, "modified") || !strcmp(k, "timestamp") || !strcmp(k, "time");
}

static void cell_text(const cJSON *v, const char *key, char *out, size_t outsz)
{
    if (!v)
        out[0] = 0;
    else if (cJSON_IsString(v))
        snprintf(out, outsz, "%s", v->valuestring);
    else if (cJSON_IsNumber(v) && time_key(key) && v->valuedouble > 1e11)
        cli_fmt_time((int64_t)v->valuedouble, out, outsz);
    else if (cJSON_IsNumber(v))
        snprintf(out, outsz, "%.0f", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(out, outsz, "%s", cJSON_IsTrue(v) ? "yes" : "no");
    else {
        char *s = cJSON_PrintUnformatted(v);
        snprintf(out, outsz, "%s", s ? s : "");
        cJSON_free(s);
    }
}

static int has_col(const char *const *cols, int n, const char *k)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(cols[i], k))
            return 1;
    return 0;
}

/* Prints the items of an answer as a table: one row per object (an object alone is one
 * row); columns `prefer` first (those present), then every other key in order of first
 * appearance, except `skip`. A list of scalars prints one per line. */
static void print_table(const cli_opts *o, const cJSON *items, const char *const *prefer, const char *const *skip)
{
    const char *cols[CLI_TABLE_MAX_COLS];
    char heads[CLI_TABLE_MAX_COLS][40];
    int n = 0;
    const cJSON *it, *kv;
    int is_arr = cJSON_IsArray(items);
    if (!cJSON_IsObject(items) && !is_arr) {
        char v[512];
        cell_text(items, "", v, sizeof v);
        puts(v);
        return;
    }
    for (int p = 0; prefer && prefer[p]; p++) {
        int present = 0;
        if (is_arr) {
            cJSON_ArrayForEach(it, items) present |= cJSON_GetObjectItemCaseSensitive(it, prefer[p]) != NULL;
        } else
            present = cJSON_GetObjectItemCaseSensitive(items, prefer[p]) != NULL;
        if (present && n < CLI_TABLE_MAX_COLS)
            cols[n++] = prefer[p];
    }
    const cJSON *single[1] = {items};
    int nrows = is_arr ? cJSON_GetArraySize(items) : 1;
    for (int r = 0; r < nrows; r++) {
        const cJSON *obj = is_arr ? cJSON_GetArrayItem(items, r) : single[0];
        if (!cJSON_IsObject(obj)) {
            char v[512];
            cell_text(obj, "", v, sizeof v);
            puts(v);
            continue;
        }
        cJSON_ArrayForEach(kv, obj)
        {
            int skipped = 0;
            for (int k = 0; skip && skip[k]; k++)
                skipped |= !strcmp(skip[k], kv->string);
            if (!skipped && n < CLI_TABLE_MAX_COLS && !has_col(cols, n, kv->string))
                cols[n++] = kv->string;
        }
    }
    if (n == 0) {
        fflush(stdout);
        return;
    }
    const char *hp[CLI_TABLE_MAX_COLS];
    for (int c = 0; c < n; c++) {
        size_t i = 0;
        for (; cols[c][i] && i < sizeof heads[c] - 1; i++)
            heads[c][i] = (char)(cols[c][i] >= 'a' && cols[c][i] <= 'z' ? cols[c][i] - 32 : cols[c][i]);
        heads[c][i] = 0;
        hp[c] = heads[c];
    }
    cli_table t;
    cli_table_init(&t, n, hp, 0);
    for (int r = 0; r < nrows; r++) {
        const cJSON *obj = is_arr ? cJSON_GetArrayItem(items, r) : single[0];
        if (!cJSON_IsObject(obj))
            continue;
        char cells[CLI_TABLE_MAX_COLS][512];
        const char *cp[CLI_TABLE_MAX_COLS];
        for (int c = 0; c < n; c++) {
            cell_text(cJSON_GetObjectItemCaseSensitive(obj, cols[c]), cols[c], cells[c], sizeof cells[c]);
            cp[c] = cells[c];
        }
        cli_table_add(&t, cp, 0);
    }
    cli_table_print(&t, o, stdout);
    cli_table_free(&t);
}

/* Group members come as [{"owner":"alice"},{"member":"bob"}]: for people, a USER ROLE
 * table. Returns that list (caller frees), or NULL if items is not such a list. */
static cJSON *members_as_rows(const cJSON *items)
{
    if (!cJSON_IsArray(items) || cJSON_GetArraySize(items) == 0)
        return NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        const cJSON *kv = cJSON_IsObject(it) ? it->child : NULL;
        if (!kv || kv->next || !cJSON_IsString(kv) ||
            (strcmp(kv->string, "owner") != 0 && strcmp(kv->string, "member") != 0 && strcmp(kv->string, "admin") != 0))
            return NULL;
    }
    cJSON *rows = cJSON_CreateArray();
    cJSON_ArrayForEach(it, items)
    {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "user", it->child->valuestring);
        cJSON_AddStringToObject(r, "role", it->child->string);
        cJSON_AddItemToArray(rows, r);
    }
    return rows;
}

/* Prints an answer — a table, or with --json one object per line — and frees it. */
int cli_print_answer(const cli_opts *o, cJSON *root, const char *const *prefer, const char *const *skip)
{
    const cJSON *items = answer_items(root);
    if (o->json) {
        const cJSON *it;
        if (cJSON_IsArray(items)) {
            cJSON_ArrayForEach(it, items)
            {
                char *s = cJSON_PrintUnformatted(it);
                cli_json_line(s);
                cJSON_free(s);
            }
        } else {
            char *s = cJSON_PrintUnformatted(items);
            cli_json_line(s);
            cJSON_free(s);
        }
    } else if (cJSON_IsArray(items) && cJSON_GetArraySize(items) == 0) {
        fprintf(stderr, "(none)\n");
    } else {
        cJSON *rows = members_as_rows(items);
        print_table(o, rows ? rows : items, prefer, skip);
        cJSON_Delete(rows);
    }
    const cJSON *cursor = cJSON_GetObjectItemCaseSensitive(root, "cursor");
    if (cJSON_IsString(cursor) && *cursor->valuestring)
        fprintf(stderr, "cursor: %s\n", cursor->valuestring);
    cJSON_Delete(root);
    fflush(stdout);
    return 0;
}
