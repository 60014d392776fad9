
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:origin:publish, sfn:origin:unpublish - make a job's outputs visible
 * at the origin, or hide them again.
 *
 *   {"bucket", "jobId", "prefixes": ["mp4/<jobId>/", ...]}
 *   {"jobId", "outputs": [{"bucket", "key", "format"}, ...],
 *    "qualityPassed", "baseUrl"?}              (the seed's publish Lambda)
 *
 * The origin serves <bucket>/<dir>/<jobId>/... only while the manifest
 * <bucket>/.sfn-published/<jobId>.json exists.  Publishing checks that
 * every prefix is there, holds files, none empty, and that every playlist
 * names only files that exist, then writes the manifest with one rename:
 * a ladder is visible whole or not at all.  The result, and the job row's
 * OutputLocations, name what now answers: the master playlist, the MP4s,
 * the thumbnails, under "baseUrl" (the origin's location).
 *
 * Before that, a transcode with "Preview" may show the job: the marker
 * <bucket>/.sfn-published/<jobId>.preview names its execution, and the
 * origin serves the job while that execution runs.  Publishing, a failed
 * QC and unpublishing remove it.
 */


#ifndef _GNU_SOURCE
#define _GNU_SOURCE                 /* asprintf() */
#endif

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "sfn_task_int.h"


#define SFN_ORIGIN_DIR        ".sfn-published"
#define SFN_ORIGIN_MAX_FILES  20000
#define SFN_ORIGIN_MAX_DEPTH  8
#define SFN_ORIGIN_PREFIXES   16


typedef struct {
    char                 *key;
    long long             size;
} sfn_origin_file_t;


typedef struct {
    sfn_task_call_t      *call;
    const char           *bucket;
    const char           *job_id;
    char                 *prefix[SFN_ORIGIN_PREFIXES];
    int                   nprefixes;
    int                   quality;       /* -1: not given, 0, 1 */
    sfn_origin_file_t    *files;
    int                   nfiles;
    int                   size;
    long long             bytes;
    char                  root[SFN_TASK_PATH_MAX];
} sfn_origin_t;


static int sfn_task_origin_publish(sfn_task_call_t *call);
static int sfn_task_origin_unpublish(sfn_task_call_t *call);


const sfn_task_def_t  sfn_task_origin_defs[] = {
    { "sfn:origin:publish", sfn_task_origin_publish },
    { "sfn:origin:unpublish", sfn_task_origin_unpublish },
    { NULL, NULL }
};


static void
sfn_origin_free(sfn_origin_t *o)
{
    int  i;

    for (i = 0; i < o->nprefixes; i++) {
        free(o->prefix[i]);
    }

    for (i = 0; i < o->nfiles; i++) {
        free(o->files[i].key);
    }

    free(o->files);
}


/* a job id names a file and a directory: keep it to a safe alphabet */

static int
sfn_origin_job_id_valid(const char *id)
{
    size_t  n;

    if (id == NULL || id[0] == '\0' || id[0] == '.') {
        return 0;
    }

    for (n = 0; id[n]; n++) {
        if (!((id[n] >= 'a' && id[n] <= 'z') || (id[n] >= 'A' && id[n] <= 'Z')
              || (id[n] >= '0' && id[n] <= '9')
              || id[n] == '-' || id[n] == '_' || id[n] == '.'))
        {
            return 0;
        }
    }

    return n <= 128;
}


/* "dir/<jobId>" or "dir/<jobId>/anything" -> "dir/<jobId>/" */

static int
sfn_origin_add_prefix(sfn_origin_t *o, const char *s, int from_key)
{
    int          i;
    char        *p, quoted[1100];
    size_t       dlen, jlen;
    const char  *slash, *rest;

    jlen = strlen(o->job_id);
    slash = strchr(s, '/');
    rest = slash ? slash + 1 : NULL;
    dlen = slash ? (size_t) (slash - s) : 0;

    if (slash == NULL || dlen == 0 || s[0] == '.'
        || strncmp(rest, o->job_id, jlen) != 0
        || (rest[jlen] != '\0' && rest[jlen] != '/')
        || (!from_key && rest[jlen] == '/' && rest[jlen + 1] != '\0'))
    {
        sfn_task_quote(quoted, sizeof(quoted), s, strlen(s));
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "%s \"%s\" is not \"<dir>/%s/\": the origin "
                             "publishes per job directory",
                             from_key ? "output key" : "prefix", quoted,
                             o->job_id);
    }

    if (asprintf(&p, "%.*s/%s/", (int) dlen, s, o->job_id) < 0) {
        return sfn_task_fail(o->call, "States.TaskFailed", "out of memory");
    }

    if (!sfn_key_valid(p, strlen(p) - 1)) {
        free(p);
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "%s of job \"%s\" is not a valid key",
                             from_key ? "an output key" : "a prefix",
                             o->job_id);
    }

    for (i = 0; i < o->nprefixes; i++) {
        if (strcmp(o->prefix[i], p) == 0) {
            free(p);
            return SFN_TASK_OK;
        }
    }

    if (o->nprefixes == SFN_ORIGIN_PREFIXES) {
        free(p);
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "more than %d prefixes", SFN_ORIGIN_PREFIXES);
    }

    o->prefix[o->nprefixes++] = p;

    return SFN_TASK_OK;
}


static int
sfn_origin_parse(sfn_task_call_t *call, sfn_origin_t *o)
{
    int           i;
    char          buf[256];
    const char   *b, *key;
    const cJSON  *in, *outputs, *prefixes, *it, *q;

    static const char  *dflt[] = { "mp4", "hls", "thumbnails", NULL };

    in = call->input;
    memset(o, 0, sizeof(sfn_origin_t));
    o->call = call;
    o->quality = -1;

    if (!cJSON_IsObject(in)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the input is not an object");
    }

    o->job_id = sfn_task_string(in, "jobId");

    if (!sfn_origin_job_id_valid(o->job_id)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"jobId\" \"%s\" is missing or not made of "
                             "letters, digits, \"-\", \"_\" and \".\"",
                             o->job_id ? o->job_id : "");
    }

    q = cJSON_GetObjectItemCaseSensitive(in, "qualityPassed");
    if (cJSON_IsBool(q)) {
        o->quality = cJSON_IsTrue(q);
    }

    o->bucket = sfn_task_string(in, "bucket");
    outputs = cJSON_GetObjectItemCaseSensitive(in, "outputs");
    prefixes = cJSON_GetObjectItemCaseSensitive(in, "prefixes");

    if (prefixes && !cJSON_IsArray(prefixes)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"prefixes\" must be an array of strings");
    }

    if (prefixes) {
        cJSON_ArrayForEach(it, prefixes) {
            if (!cJSON_IsString(it)
                || sfn_origin_add_prefix(o, it->valuestring, 0)
                   != SFN_TASK_OK)
            {
                return call->error[0] ? SFN_TASK_FAILED
                       : sfn_task_fail(call, "States.TaskFailed",
                                       "\"prefixes\" must be an array of "
                                       "strings");
            }
        }

    } else if (cJSON_IsArray(outputs)) {

        /* the seed's outputs: one bucket, keys under <dir>/<jobId>/ */

        cJSON_ArrayForEach(it, outputs) {
            b = sfn_task_string(it, "bucket");
            key = sfn_task_string(it, "key");

            if (b == NULL || key == NULL) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "every output needs \"bucket\" and "
                                     "\"key\"");
            }

            if (o->bucket && strcmp(o->bucket, b) != 0) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "outputs in two buckets (\"%s\", "
                                     "\"%s\"): a manifest covers one",
                                     o->bucket, b);
            }

            o->bucket = b;

            if (sfn_origin_add_prefix(o, key, 1) != SFN_TASK_OK) {
                return SFN_TASK_FAILED;
            }
        }
    }

    if (o->nprefixes == 0) {
        for (i = 0; dflt[i]; i++) {
            snprintf(buf, sizeof(buf), "%s/%s/", dflt[i], o->job_id);

            if (sfn_origin_add_prefix(o, buf, 0) != SFN_TASK_OK) {
                return SFN_TASK_FAILED;
            }
        }
    }

    if (o->bucket == NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"bucket\" (the output bucket) is required");
    }

    /* the manifest is ours: no key a client may name reaches it */

    b = sfn_task_bucket_root(call, o->bucket);
    if (b == NULL) {
        return SFN_TASK_FAILED;
    }

    if ((size_t) snprintf(o->root, sizeof(o->root), "%s", b)
        >= sizeof(o->root))
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the bucket path is too long");
    }

    return SFN_TASK_OK;
}


static int
sfn_origin_manifest_path(sfn_origin_t *o, char *buf, size_t size)
{
    if ((size_t) snprintf(buf, size, "%s/%s/%s.json", o->root,
                          SFN_ORIGIN_DIR, o->job_id)
        >= size)
    {
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "the manifest path is too long");
    }

    return SFN_TASK_OK;
}


static int
sfn_origin_path(sfn_origin_t *o, const char *key, char *buf, size_t size)
{
    if ((size_t) snprintf(buf, size, "%s/%s", o->root, key) >= size) {
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "the path of \"%s\" is too long", key);
    }

    return SFN_TASK_OK;
}


static int
sfn_origin_add_file(sfn_origin_t *o, const char *key, long long size)
{
    sfn_origin_file_t  *f;

    if (o->nfiles == SFN_ORIGIN_MAX_FILES) {
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "more than %d files under the job's prefixes",
                             SFN_ORIGIN_MAX_FILES);
    }

    if (o->nfiles == o->size) {
        o->size = o->size ? o->size * 2 : 64;
        f = realloc(o->files, o->size * sizeof(sfn_origin_file_t));

        if (f == NULL) {
            return sfn_task_fail(o->call, "States.TaskFailed",
                                 "out of memory");
        }

        o->files = f;
    }

    o->files[o->nfiles].key = strdup(key);

    if (o->files[o->nfiles].key == NULL) {
        return sfn_task_fail(o->call, "States.TaskFailed", "out of memory");
    }

    o->files[o->nfiles++].size = size;
    o->bytes += size;

    return SFN_TASK_OK;
}


/*
 * Lists the files under key (a directory); dot-names are temporary files
 * and are skipped, as are symbolic links, which the origin will not serve.
 */

static int
sfn_origin_walk(sfn_origin_t *o, const char *key, int depth)
{
    int             rc;
    DIR            *dir;
    char            path[SFN_TASK_PATH_MAX], sub[SFN_TASK_PATH_MAX];
    struct stat     st;
    struct dirent  *de;

    if (depth > SFN_ORIGIN_MAX_DEPTH) {
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "\"%s\" nests too deeply", key);
    }

    if (sfn_origin_path(o, key, path, sizeof(path)) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    dir = opendir(path);
    if (dir == NULL) {
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "cannot list \"%s\": %s", path, strerror(errno));
    }

    rc = SFN_TASK_OK;

    while (rc == SFN_TASK_OK && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        if ((size_t) snprintf(sub, sizeof(sub), "%s/%s", key, de->d_name)
            >= sizeof(sub)
            || (size_t) snprintf(path, sizeof(path), "%s/%s", o->root, sub)
               >= sizeof(path))
        {
            rc = sfn_task_fail(o->call, "States.TaskFailed",
                               "a path under \"%s\" is too long", key);
            break;
        }

        if (lstat(path, &st) != 0) {
            if (errno == ENOENT) {
                continue;
            }

            rc = sfn_task_fail(o->call, "States.TaskFailed",
                               "stat \"%s\" failed: %s", path,
                               strerror(errno));
            break;
        }

        if (S_ISDIR(st.st_mode)) {
            rc = sfn_origin_walk(o, sub, depth + 1);

        } else if (S_ISREG(st.st_mode)) {
            if (st.st_size == 0) {
                rc = sfn_task_fail(o->call, "States.TaskFailed",
                                   "\"%s\" is empty: the outputs are not "
                                   "complete, nothing was published", sub);
                break;
            }

            rc = sfn_origin_add_file(o, sub, st.st_size);
        }
    }

    closedir(dir);

    return rc;
}


static int
sfn_origin_cmp(const void *a, const void *b)
{
    return strcmp(((const sfn_origin_file_t *) a)->key,
                  ((const sfn_origin_file_t *) b)->key);
}


static sfn_origin_file_t *
sfn_origin_find(sfn_origin_t *o, const char *key)
{
    sfn_origin_file_t  f;

    f.key = (char *) key;

    return bsearch(&f, o->files, o->nfiles, sizeof(sfn_origin_file_t),
                   sfn_origin_cmp);
}


/* uri relative to the playlist key -> a key, "." and ".." resolved */

static int
sfn_origin_resolve(const char *playlist, const char *uri, size_t len,
    char *buf, size_t size)
{
    char        *p, *q, *seg, *w, *end;
    size_t       n;
    const char  *slash;

    slash = strrchr(playlist, '/');
    n = slash ? (size_t) (slash - playlist + 1) : 0;

    if (n + len + 1 > size) {
        return -1;
    }

    memcpy(buf, playlist, n);
    memcpy(buf + n, uri, len);
    buf[n + len] = '\0';

    /* in place: w writes the kept segments, never ahead of seg */

    w = buf;
    end = buf + n + len;

    for (p = buf; p < end; p = seg + n + 1) {
        seg = p;
        q = memchr(seg, '/', end - seg);
        n = q ? (size_t) (q - seg) : (size_t) (end - seg);

        if (n == 0 || (n == 1 && seg[0] == '.')) {
            continue;
        }

        if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (w == buf) {
                return -1;
            }

            for (w--; w > buf && w[-1] != '/'; w--) { /* void */ }
            continue;
        }

        memmove(w, seg, n);
        w += n;
        *w++ = '/';
    }

    if (w == buf) {
        return -1;
    }

    w[-1] = '\0';

    return 0;
}


static int
sfn_origin_check_uri(sfn_origin_t *o, const char *playlist, const char *uri,
    size_t len)
{
    char    key[SFN_TASK_PATH_MAX];
    size_t  q;

    /* absolute URLs point elsewhere; a query does not name a file */

    if (len == 0 || uri[0] == '/' || memchr(uri, ':', len) != NULL) {
        return SFN_TASK_OK;
    }

    for (q = 0; q < len && uri[q] != '?' && uri[q] != '#'; q++) {
        /* void */
    }

    if (sfn_origin_resolve(playlist, uri, q, key, sizeof(key)) != 0
        || sfn_origin_find(o, key) == NULL)
    {
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "the playlist \"%s\" names \"%.*s\", which is "
                             "not there: the outputs are not complete, "
                             "nothing was published", playlist, (int) len,
                             uri);
    }

    return SFN_TASK_OK;
}


/* every URI in a playlist must be a published file; 1 for a master */

static int
sfn_origin_check_playlist(sfn_origin_t *o, const char *key, int *master)
{
    int          rc;
    FILE        *fp;
    char        *p, *e;
    char         path[SFN_TASK_PATH_MAX], line[4096];

    *master = 0;

    if (sfn_origin_path(o, key, path, sizeof(path)) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    fp = fopen(path, "r");
    if (fp == NULL) {
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "cannot read \"%s\": %s", path, strerror(errno));
    }

    rc = SFN_TASK_OK;

    if (fgets(line, sizeof(line), fp) == NULL
        || strncmp(line, "#EXTM3U", 7) != 0)
    {
        rc = sfn_task_fail(o->call, "States.TaskFailed",
                           "\"%s\" is not an HLS playlist", key);
    }

    while (rc == SFN_TASK_OK && fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\r\n")] = '\0';

        if (strncmp(line, "#EXT-X-STREAM-INF", 17) == 0) {
            *master = 1;
        }

        if (line[0] != '#') {
            rc = sfn_origin_check_uri(o, key, line, strlen(line));
            continue;
        }

        /* #EXT-X-MAP, #EXT-X-MEDIA, #EXT-X-I-FRAME-STREAM-INF: URI="..." */

        p = strstr(line, "URI=\"");
        if (p == NULL) {
            continue;
        }

        p += 5;
        e = strchr(p, '"');

        if (e) {
            rc = sfn_origin_check_uri(o, key, p, e - p);
        }
    }

    fclose(fp);

    return rc;
}


static int
sfn_origin_is_playlist(const char *key)
{
    size_t  n;

    n = strlen(key);

    return n > 5 && strcmp(key + n - 5, ".m3u8") == 0;
}


/* checks the tree, fills the manifest's file list and the result's URLs */

static int
sfn_origin_verify(sfn_origin_t *o, cJSON *urls, cJSON **playlist)
{
    int           i, j, first, master, lists;
    char          key[SFN_TASK_PATH_MAX], path[SFN_TASK_PATH_MAX];
    cJSON        *list, *masters, *media;
    size_t        n;
    struct stat   st;

    *playlist = NULL;

    for (i = 0; i < o->nprefixes; i++) {
        n = strlen(o->prefix[i]) - 1;
        snprintf(key, sizeof(key), "%.*s", (int) n, o->prefix[i]);

        if (sfn_origin_path(o, key, path, sizeof(path)) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }

        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            return sfn_task_fail(o->call, "States.TaskFailed",
                                 "\"%s\" is not in the bucket \"%s\": the "
                                 "outputs are not complete, nothing was "
                                 "published", o->prefix[i], o->bucket);
        }

        first = o->nfiles;

        if (sfn_origin_walk(o, key, 0) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }

        if (o->nfiles == first) {
            return sfn_task_fail(o->call, "States.TaskFailed",
                                 "\"%s\" in the bucket \"%s\" is empty: the "
                                 "outputs are not complete, nothing was "
                                 "published", o->prefix[i], o->bucket);
        }
    }

    qsort(o->files, o->nfiles, sizeof(sfn_origin_file_t), sfn_origin_cmp);

    for (i = 0; i < o->nprefixes; i++) {
        n = strlen(o->prefix[i]);
        snprintf(key, sizeof(key), "%.*s", (int) (strchr(o->prefix[i], '/')
                                                  - o->prefix[i]),
                 o->prefix[i]);

        masters = cJSON_CreateArray();
        media = cJSON_CreateArray();
        list = cJSON_CreateArray();
        lists = 0;

        for (j = 0; j < o->nfiles; j++) {
            if (strncmp(o->files[j].key, o->prefix[i], n) != 0) {
                continue;
            }

            if (!sfn_origin_is_playlist(o->files[j].key)) {
                cJSON_AddItemToArray(list,
                                     cJSON_CreateString(o->files[j].key));
                continue;
            }

            lists = 1;

            if (sfn_origin_check_playlist(o, o->files[j].key, &master)
                != SFN_TASK_OK)
            {
                cJSON_Delete(masters);
                cJSON_Delete(media);
                cJSON_Delete(list);
                return SFN_TASK_FAILED;
            }

            cJSON_AddItemToArray(master ? masters : media,
                                 cJSON_CreateString(o->files[j].key));
        }

        /* HLS: the master playlists, else the media playlists */

        if (lists) {
            cJSON_Delete(list);
            list = cJSON_GetArraySize(masters) ? masters : media;
            cJSON_Delete(list == masters ? media : masters);

            if (*playlist == NULL && cJSON_GetArraySize(list)) {
                *playlist = cJSON_Duplicate(cJSON_GetArrayItem(list, 0), 0);
            }

        } else {
            cJSON_Delete(masters);
            cJSON_Delete(media);
        }

        if (cJSON_GetObjectItemCaseSensitive(urls, key)) {
            cJSON_Delete(list);
            continue;
        }

        cJSON_AddItemToObject(urls, key, list);
    }

    return SFN_TASK_OK;
}


int
sfn_task_origin_preview(sfn_task_call_t *call, const char *root,
    const char *job_id, const char *execution)
{
    int   n;
    char  path[SFN_TASK_PATH_MAX], text[2048];

    if (!sfn_origin_job_id_valid(job_id)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the job id \"%s\" cannot name a preview: it "
                             "is not made of letters, digits, \"-\", \"_\" "
                             "and \".\"", job_id);
    }

    n = snprintf(text, sizeof(text), "%s\n", execution);

    if ((size_t) snprintf(path, sizeof(path), "%s/%s/%s.preview", root,
                          SFN_ORIGIN_DIR, job_id)
        >= sizeof(path)
        || n < 0 || (size_t) n >= sizeof(text))
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the preview marker of \"%s\" is too long",
                             job_id);
    }

    return sfn_task_write_atomic(call, path, text, n);
}


int
sfn_task_origin_withdraw(const char *root, const char *job_id, int published)
{
    int          i, rc;
    char         path[SFN_TASK_PATH_MAX];

    static const char  *ext[] = { "preview", "json" };

    rc = 0;

    for (i = 0; i < (published ? 2 : 1); i++) {
        if ((size_t) snprintf(path, sizeof(path), "%s/%s/%s.%s", root,
                              SFN_ORIGIN_DIR, job_id, ext[i])
            >= sizeof(path))
        {
            errno = ENAMETOOLONG;
            return -1;
        }

        if (unlink(path) == 0) {
            (void) sfn_task_fsync_dir(path);

        } else if (errno != ENOENT && errno != ENOTDIR) {
            rc = -1;
        }
    }

    return rc;
}


static int
sfn_origin_remove_manifest(sfn_origin_t *o, int *was)
{
    char  path[SFN_TASK_PATH_MAX];

    *was = 0;

    if (sfn_origin_manifest_path(o, path, sizeof(path)) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    /* a preview goes first: nothing of the job stays visible */

    if (sfn_task_origin_withdraw(o->root, o->job_id, 0) != 0) {
        return sfn_task_fail(o->call, "States.TaskFailed",
                             "the preview of \"%s\" cannot be withdrawn: %s",
                             o->job_id, strerror(errno));
    }

    if (unlink(path) == 0) {
        *was = 1;
        (void) sfn_task_fsync_dir(path);
        return SFN_TASK_OK;
    }

    if (errno == ENOENT || errno == ENOTDIR) {
        return SFN_TASK_OK;
    }

    return sfn_task_fail(o->call, "States.TaskFailed",
                         "unlink \"%s\" failed: %s", path, strerror(errno));
}


/* the job row, when there is a database; the source bucket and key back */

static int
sfn_origin_job_row(sfn_origin_t *o, const char *status, cJSON *attrs,
    cJSON *r)
{
    int    rc;
    char  *bucket, *key;

    if (o->call->env == NULL || o->call->env->db_conninfo == NULL) {
        cJSON_Delete(attrs);
        return SFN_TASK_OK;
    }

    rc = sfn_task_db_job_set(o->call, o->job_id, status, attrs, &bucket,
                             &key);
    cJSON_Delete(attrs);

    if (rc != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    /* the seed's next state reads $.key: the source, for the archive copy */

    if (key) {
        cJSON_AddStringToObject(r, "key", key);
    }

    if (bucket) {
        cJSON_AddStringToObject(r, "sourceBucket", bucket);
    }

    free(bucket);
    free(key);

    return SFN_TASK_OK;
}


static int
sfn_origin_failed_qc(sfn_origin_t *o)
{
    int           was;
    char          now[40], msg[256];
    cJSON        *r, *attrs;

    if (sfn_origin_remove_manifest(o, &was) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    snprintf(msg, sizeof(msg),
             "Video processing failed quality control for job %s", o->job_id);

    r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "statusCode", 200);
    cJSON_AddStringToObject(r, "jobId", o->job_id);
    cJSON_AddStringToObject(r, "status", "FAILED_QC");
    cJSON_AddStringToObject(r, "message", msg);
    cJSON_AddStringToObject(r, "bucket", o->bucket);
    cJSON_AddBoolToObject(r, "published", 0);

    attrs = cJSON_CreateObject();
    cJSON_AddStringToObject(attrs, "FailedAt", sfn_task_now(now, sizeof(now)));
    cJSON_AddStringToObject(attrs, "FailureReason",
                            "Quality control validation failed");

    if (sfn_origin_job_row(o, "FAILED_QC", attrs, r) != SFN_TASK_OK) {
        cJSON_Delete(r);
        return SFN_TASK_FAILED;
    }

    o->call->output = r;

    return SFN_TASK_OK;
}


/*
 * The sprite sheet: the image the tree's first WebVTT thumbnail track
 * points into with a media fragment (".../sheet.jpg#xywh=0,0,160,90"),
 * whatever it is called; "" if none.  Cue URIs are relative to the track.
 */

static void
sfn_origin_sprite(sfn_origin_t *o, char *sheet, size_t size)
{
    int          j;
    FILE        *fp;
    char        *hash;
    char         path[SFN_TASK_PATH_MAX], line[4096];
    size_t       n, dir;
    const char  *vtt;

    sheet[0] = '\0';

    for (j = 0; sheet[0] == '\0' && j < o->nfiles; j++) {
        vtt = o->files[j].key;
        n = strlen(vtt);

        if (n < 4 || strcmp(vtt + n - 4, ".vtt") != 0
            || sfn_origin_path(o, vtt, path, sizeof(path)) != SFN_TASK_OK)
        {
            continue;
        }

        fp = fopen(path, "r");
        if (fp == NULL) {
            continue;
        }

        dir = strrchr(vtt, '/') ? (size_t) (strrchr(vtt, '/') - vtt + 1) : 0;

        while (fgets(line, sizeof(line), fp)) {
            hash = strstr(line, "#xywh=");
            if (hash == NULL || line[0] == '#') {
                continue;
            }

            *hash = '\0';

            if (strchr(line, ':') == NULL && line[0] != '/'
                && (size_t) snprintf(sheet, size, "%.*s%s", (int) dir, vtt,
                                     line) >= size)
            {
                sheet[0] = '\0';
            }

            break;
        }

        fclose(fp);
    }
}


/*
 * Where to watch: base (the origin's location, "/vod/" or an absolute
 * URL; "" names keys) joined to the keys the origin now serves, by kind.
 */

static cJSON *
sfn_origin_playback(sfn_origin_t *o, const char *base, const cJSON *playlist)
{
    int          i, j, hls;
    char         url[SFN_TASK_PATH_MAX + 1024];
    cJSON       *r, *mp4, *images;
    size_t       n;
    char         sheet[SFN_TASK_PATH_MAX];
    const char  *key, *name, *ext, *kind;

    r = cJSON_CreateObject();

    sfn_origin_sprite(o, sheet, sizeof(sheet));

    if (cJSON_IsString(playlist)) {
        snprintf(url, sizeof(url), "%s%s", base, playlist->valuestring);
        cJSON_AddStringToObject(r, "hls", url);
    }

    mp4 = cJSON_AddArrayToObject(r, "mp4");
    images = cJSON_AddArrayToObject(r, "thumbnails");

    for (i = 0; i < o->nprefixes; i++) {
        n = strlen(o->prefix[i]);
        hls = 0;

        for (j = 0; j < o->nfiles; j++) {
            if (strncmp(o->files[j].key, o->prefix[i], n) == 0
                && sfn_origin_is_playlist(o->files[j].key))
            {
                hls = 1;
                break;
            }
        }

        /* an HLS tree is watched through its master */

        for (j = 0; !hls && j < o->nfiles; j++) {
            key = o->files[j].key;

            if (strncmp(key, o->prefix[i], n) != 0) {
                continue;
            }

            name = strrchr(key, '/') + 1;
            ext = strrchr(name, '.');
            snprintf(url, sizeof(url), "%s%s", base, key);

            if (ext == NULL) {
                continue;
            }

            kind = strcmp(ext, ".mp4") == 0 ? "mp4"
                   : strcmp(ext, ".vtt") == 0 ? "thumbnailsVtt"
                   : strcmp(ext, ".jpg") != 0 && strcmp(ext, ".jpeg") != 0
                     ? NULL
                   : strcmp(key, sheet) == 0 ? "sprite"
                   : strstr(name, "poster") ? "poster"
                   : "thumbnails";

            if (kind == NULL) {
                continue;
            }

            if (strcmp(kind, "mp4") == 0) {
                cJSON_AddItemToArray(mp4, cJSON_CreateString(url));

            } else if (strcmp(kind, "thumbnails") == 0) {
                cJSON_AddItemToArray(images, cJSON_CreateString(url));

            } else if (!cJSON_GetObjectItemCaseSensitive(r, kind)) {
                cJSON_AddStringToObject(r, kind, url);
            }
        }
    }

    return r;
}


static int
sfn_task_origin_publish(sfn_task_call_t *call)
{
    int            i, rc;
    char           path[SFN_TASK_PATH_MAX], now[40], msg[256], rel[256];
    char          *text;
    cJSON         *man, *files, *f, *urls, *playlist, *r, *attrs, *playback;
    const char    *base;
    sfn_origin_t   o;

    if (sfn_origin_parse(call, &o) != SFN_TASK_OK) {
        sfn_origin_free(&o);
        return SFN_TASK_FAILED;
    }

    if (o.quality == 0) {
        rc = sfn_origin_failed_qc(&o);
        sfn_origin_free(&o);
        return rc;
    }

    urls = cJSON_CreateObject();

    if (sfn_origin_verify(&o, urls, &playlist) != SFN_TASK_OK
        || sfn_origin_manifest_path(&o, path, sizeof(path)) != SFN_TASK_OK)
    {
        cJSON_Delete(urls);
        sfn_origin_free(&o);
        return SFN_TASK_FAILED;
    }

    sfn_task_now(now, sizeof(now));

    man = cJSON_CreateObject();
    cJSON_AddStringToObject(man, "jobId", o.job_id);
    cJSON_AddStringToObject(man, "bucket", o.bucket);
    cJSON_AddStringToObject(man, "publishedAt", now);

    if (call->env && call->env->execution) {
        cJSON_AddStringToObject(man, "executionArn", call->env->execution);
    }

    f = cJSON_AddArrayToObject(man, "prefixes");

    for (i = 0; i < o.nprefixes; i++) {
        cJSON_AddItemToArray(f, cJSON_CreateString(o.prefix[i]));
    }

    if (playlist) {
        cJSON_AddItemToObject(man, "playlist", cJSON_Duplicate(playlist, 0));
    }

    cJSON_AddNumberToObject(man, "totalBytes", (double) o.bytes);
    files = cJSON_AddArrayToObject(man, "files");

    for (i = 0; i < o.nfiles; i++) {
        f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "key", o.files[i].key);
        cJSON_AddNumberToObject(f, "size", (double) o.files[i].size);
        cJSON_AddItemToArray(files, f);
    }

    text = cJSON_Print(man);
    cJSON_Delete(man);

    if (text == NULL) {
        cJSON_Delete(urls);
        cJSON_Delete(playlist);
        sfn_origin_free(&o);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    /* the one atomic step: from here the origin serves the job */

    rc = sfn_task_write_atomic(call, path, text, strlen(text));
    free(text);

    if (rc != SFN_TASK_OK
        || sfn_task_opt_string(call, call->input, "baseUrl", &base)
           != SFN_TASK_OK)
    {
        cJSON_Delete(urls);
        cJSON_Delete(playlist);
        sfn_origin_free(&o);
        return SFN_TASK_FAILED;
    }

    /* published: a preview of the job has served its turn */

    (void) sfn_task_origin_withdraw(o.root, o.job_id, 0);

    playback = sfn_origin_playback(&o, base ? base : "", playlist);

    /* what the seed's publish Lambda returns, and where things are */

    snprintf(msg, sizeof(msg),
             "Video processing completed successfully for job %s", o.job_id);
    snprintf(rel, sizeof(rel), "%s/%s.json", SFN_ORIGIN_DIR, o.job_id);

    r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "statusCode", 200);
    cJSON_AddStringToObject(r, "jobId", o.job_id);
    cJSON_AddStringToObject(r, "status", "PUBLISHED");
    cJSON_AddStringToObject(r, "message", msg);
    cJSON_AddStringToObject(r, "bucket", o.bucket);
    cJSON_AddBoolToObject(r, "published", 1);
    cJSON_AddStringToObject(r, "publishedAt", now);
    cJSON_AddStringToObject(r, "manifest", rel);

    if (playlist) {
        cJSON_AddItemToObject(r, "playlist", playlist);
    }

    cJSON_AddItemToObject(r, "urls", urls);
    cJSON_AddItemToObject(r, "playback", playback);
    cJSON_AddNumberToObject(r, "fileCount", o.nfiles);
    cJSON_AddNumberToObject(r, "totalBytes", (double) o.bytes);

    /* the job row: what answers, not the keys the workflow guessed */

    attrs = cJSON_CreateObject();
    cJSON_AddStringToObject(attrs, "PublishedAt", now);
    cJSON_AddItemToObject(attrs, "OutputLocations",
                          cJSON_Duplicate(playback, 1));

    if (sfn_origin_job_row(&o, "PUBLISHED", attrs, r) != SFN_TASK_OK) {
        cJSON_Delete(r);
        sfn_origin_free(&o);
        return SFN_TASK_FAILED;
    }

    call->output = r;
    sfn_origin_free(&o);

    return SFN_TASK_OK;
}


static int
sfn_task_origin_unpublish(sfn_task_call_t *call)
{
    int            was;
    cJSON         *r;
    sfn_origin_t   o;

    if (sfn_origin_parse(call, &o) != SFN_TASK_OK
        || sfn_origin_remove_manifest(&o, &was) != SFN_TASK_OK)
    {
        sfn_origin_free(&o);
        return SFN_TASK_FAILED;
    }

    r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "jobId", o.job_id);
    cJSON_AddStringToObject(r, "bucket", o.bucket);
    cJSON_AddStringToObject(r, "status", "UNPUBLISHED");
    cJSON_AddBoolToObject(r, "wasPublished", was);

    call->output = r;
    sfn_origin_free(&o);

    return SFN_TASK_OK;
}
