
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:file:copy, sfn:file:move, sfn:file:delete - S3 CopyObject and
 * DeleteObject on bucket directories, and the file helpers of the other
 * non-media tasks.
 *
 *   {"source": {"bucket", "key"}, "destination": {"bucket", "key"}}
 *   {"Bucket", "CopySource": "srcbucket/key", "Key"}     (aws-sdk:s3)
 *   {"bucket", "key"} or {"Bucket", "Key"}                (delete)
 *   {"bucket", "prefix": "dir/"}          (delete every object under it)
 *
 * An object appears at its key complete or not at all: data go to a
 * temporary file in the destination directory, which is fsync()ed and
 * renamed over the key.
 */


#ifndef _GNU_SOURCE
#define _GNU_SOURCE                 /* copy_file_range(), mkostemp() */
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "sfn_task_int.h"


#define SFN_FILE_CHUNK  (8 * 1024 * 1024)
#define SFN_FILE_BUF    (1024 * 1024)

/* what a prefix delete walks at most */
#define SFN_FILE_DELETE_DEPTH  16
#define SFN_FILE_DELETE_MAX    100000


typedef struct {
    const char           *bucket;
    const char           *key;
    char                  path[SFN_TASK_PATH_MAX];
} sfn_file_obj_t;


typedef struct {
    sfn_file_obj_t        src;
    sfn_file_obj_t        dst;
    char                  copy_source[SFN_TASK_PATH_MAX];
    int                   aws;
} sfn_file_req_t;


static int sfn_task_file_copy(sfn_task_call_t *call);
static int sfn_task_file_move(sfn_task_call_t *call);
static int sfn_task_file_delete(sfn_task_call_t *call);


const sfn_task_def_t  sfn_task_file_defs[] = {
    { "sfn:file:copy", sfn_task_file_copy },
    { "sfn:file:move", sfn_task_file_move },
    { "sfn:file:delete", sfn_task_file_delete },
    { NULL, NULL }
};


int
sfn_task_cancelled(const sfn_task_call_t *call)
{
    return call->env && call->env->cancel && *call->env->cancel;
}


char *
sfn_task_iso8601(char *buf, size_t size, time_t t, long ms)
{
    struct tm  tm;

    gmtime_r(&t, &tm);

    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, ms);

    return buf;
}


char *
sfn_task_now(char *buf, size_t size)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return sfn_task_iso8601(buf, size, tv.tv_sec, tv.tv_usec / 1000);
}


char *
sfn_task_uuid(char *buf, size_t size)
{
    size_t          i, n;
    unsigned char   b[16];
    struct timeval  tv;

    n = 0;

    while (n < sizeof(b)) {
        ssize_t  r;

        r = getrandom(b + n, sizeof(b) - n, 0);

        if (r <= 0) {
            if (r < 0 && errno == EINTR) {
                continue;
            }

            /* cannot happen on Linux >= 3.17; stay unique, if not random */

            gettimeofday(&tv, NULL);

            for (i = n; i < sizeof(b); i++) {
                b[i] = (unsigned char) ((tv.tv_usec >> (i % 3 * 8))
                                        ^ (uintptr_t) &tv ^ i * 131);
            }

            break;
        }

        n += r;
    }

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    snprintf(buf, size,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);

    return buf;
}


int
sfn_task_mkdirs(const char *path)
{
    char   dir[SFN_TASK_PATH_MAX];
    char  *p;

    if (snprintf(dir, sizeof(dir), "%s", path) >= (int) sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    p = strrchr(dir, '/');
    if (p == NULL || p == dir) {
        return 0;
    }

    *p = '\0';

    for (p = dir + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }

        *p = '\0';

        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            return -1;
        }

        *p = '/';
    }

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return -1;
    }

    return 0;
}


int
sfn_task_fsync_dir(const char *path)
{
    int    fd, rc;
    char   dir[SFN_TASK_PATH_MAX];
    char  *p;

    snprintf(dir, sizeof(dir), "%s", path);

    p = strrchr(dir, '/');

    if (p == NULL) {
        snprintf(dir, sizeof(dir), ".");

    } else if (p == dir) {
        dir[1] = '\0';

    } else {
        *p = '\0';
    }

    fd = open(dir, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
    if (fd == -1) {
        return -1;
    }

    rc = fsync(fd);
    close(fd);

    return rc;
}


/* a temporary file beside path: dot-named, so listings skip it */

static int
sfn_task_file_temp(sfn_task_call_t *call, const char *path, char *tmp,
    size_t size)
{
    int          fd;
    const char  *p;

    p = strrchr(path, '/');

    if (p == NULL
        || (size_t) snprintf(tmp, size, "%.*s/.sfn-tmp-XXXXXX",
                             (int) (p - path), path)
           >= size)
    {
        sfn_task_fail(call, "States.TaskFailed", "path \"%s\" is too long",
                      path);
        return -1;
    }

    if (sfn_task_mkdirs(path) != 0) {
        sfn_task_fail(call, "States.TaskFailed",
                      "cannot create the directories of \"%s\": %s", path,
                      strerror(errno));
        return -1;
    }

    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd == -1) {
        sfn_task_fail(call, "States.TaskFailed",
                      "cannot create a temporary file \"%s\": %s", tmp,
                      strerror(errno));
        return -1;
    }

    /* as an upload would be, not mkstemp()'s 0600: the origin reads it */

    (void) fchmod(fd, 0644);

    return fd;
}


/* fsync, close, rename over path, fsync the directory; unlinks on error */

static int
sfn_task_file_commit(sfn_task_call_t *call, int fd, const char *tmp,
    const char *path)
{
    int  err;

    if (fsync(fd) != 0) {
        err = errno;
        close(fd);
        unlink(tmp);
        return sfn_task_fail(call, "States.TaskFailed",
                             "fsync \"%s\" failed: %s", tmp, strerror(err));
    }

    if (close(fd) != 0) {
        err = errno;
        unlink(tmp);
        return sfn_task_fail(call, "States.TaskFailed",
                             "close \"%s\" failed: %s", tmp, strerror(err));
    }

    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        return sfn_task_fail(call, "States.TaskFailed",
                             "rename \"%s\" to \"%s\" failed: %s", tmp, path,
                             strerror(err));
    }

    if (sfn_task_fsync_dir(path) != 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "fsync of the directory of \"%s\" failed: %s",
                             path, strerror(errno));
    }

    return SFN_TASK_OK;
}


int
sfn_task_write_atomic(sfn_task_call_t *call, const char *path,
    const char *data, size_t len)
{
    int      fd, err;
    char     tmp[SFN_TASK_PATH_MAX];
    ssize_t  n;

    fd = sfn_task_file_temp(call, path, tmp, sizeof(tmp));
    if (fd == -1) {
        return SFN_TASK_FAILED;
    }

    while (len) {
        n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            err = errno;
            close(fd);
            unlink(tmp);
            return sfn_task_fail(call, "States.TaskFailed",
                                 "write \"%s\" failed: %s", tmp,
                                 strerror(err));
        }

        data += n;
        len -= n;
    }

    return sfn_task_file_commit(call, fd, tmp, path);
}


/* S3's CopySource: "bucket/key", optionally with a leading "/", URL-encoded */


static int
sfn_task_file_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int
sfn_task_file_copy_source(sfn_task_call_t *call, sfn_file_req_t *req,
    const char *cs)
{
    int          hi, lo;
    char        *d, *slash, quoted[1100];
    const char  *s;

    sfn_task_quote(quoted, sizeof(quoted), cs, strlen(cs));

    if (strstr(cs, "?versionId=") != NULL) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "CopySource \"%s\": object versions are not "
                             "supported", quoted);
    }

    if (strlen(cs) >= sizeof(req->copy_source)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "CopySource is too long");
    }

    if (*cs == '/') {
        cs++;
    }

    d = req->copy_source;

    for (s = cs; *s; s++) {
        if (*s != '%') {
            *d++ = *s;
            continue;
        }

        hi = sfn_task_file_hex(s[1]);
        lo = hi >= 0 ? sfn_task_file_hex(s[2]) : -1;

        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "CopySource \"%s\" is not URL-encoded "
                                 "properly", quoted);
        }

        *d++ = (char) (hi * 16 + lo);
        s += 2;
    }

    *d = '\0';

    slash = strchr(req->copy_source, '/');

    if (slash == NULL || slash == req->copy_source || slash[1] == '\0') {
        return sfn_task_fail(call, "States.TaskFailed",
                             "CopySource \"%s\" is not \"bucket/key\"",
                             quoted);
    }

    *slash = '\0';
    req->src.bucket = req->copy_source;
    req->src.key = slash + 1;

    return SFN_TASK_OK;
}


/* S3's answer for a bucket that is not configured */

static int
sfn_task_file_resolve_bucket(sfn_task_call_t *call, const char *bucket)
{
    char                   quoted[1100];
    const sfn_task_env_t  *env;

    env = call->env;

    if (bucket && env && env->bucket_path
        && env->bucket_path(env->data, bucket) == NULL)
    {
        sfn_task_quote(quoted, sizeof(quoted), bucket, strlen(bucket));
        return sfn_task_fail(call, "S3.NoSuchBucketException",
                             "the bucket \"%s\" does not exist", quoted);
    }

    return SFN_TASK_OK;
}


static int
sfn_task_file_resolve(sfn_task_call_t *call, sfn_file_obj_t *obj)
{
    if (sfn_task_file_resolve_bucket(call, obj->bucket) != SFN_TASK_OK
        || sfn_task_bucket_path(call, obj->bucket, obj->key, obj->path,
                                sizeof(obj->path))
           == NULL)
    {
        return SFN_TASK_FAILED;
    }

    return SFN_TASK_OK;
}


static int
sfn_task_file_parse(sfn_task_call_t *call, sfn_file_req_t *req)
{
    const char   *cs;
    const cJSON  *in, *src, *dst;

    in = call->input;
    memset(req, 0, sizeof(sfn_file_req_t));

    if (!cJSON_IsObject(in)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the input is not an object");
    }

    cs = sfn_task_string(in, "CopySource");

    if (cs) {
        req->aws = 1;

        if (sfn_task_file_copy_source(call, req, cs) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }

        req->dst.bucket = sfn_task_string(in, "Bucket");
        req->dst.key = sfn_task_string(in, "Key");

        if (req->dst.bucket == NULL || req->dst.key == NULL) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "\"Bucket\" and \"Key\" are required "
                                 "with \"CopySource\"");
        }

    } else {
        src = cJSON_GetObjectItemCaseSensitive(in, "source");
        dst = cJSON_GetObjectItemCaseSensitive(in, "destination");

        if (!cJSON_IsObject(src) || !cJSON_IsObject(dst)) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "expected {\"source\": {\"bucket\", "
                                 "\"key\"}, \"destination\": {\"bucket\", "
                                 "\"key\"}} or {\"Bucket\", \"CopySource\", "
                                 "\"Key\"}");
        }

        req->src.bucket = sfn_task_string(src, "bucket");
        req->src.key = sfn_task_string(src, "key");
        req->dst.bucket = sfn_task_string(dst, "bucket");
        req->dst.key = sfn_task_string(dst, "key");
    }

    if (sfn_task_file_resolve(call, &req->src) != SFN_TASK_OK
        || sfn_task_file_resolve(call, &req->dst) != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    return SFN_TASK_OK;
}


static int
sfn_task_file_no_such_key(sfn_task_call_t *call, sfn_file_obj_t *obj,
    int err)
{
    if (err == ENOENT || err == ENOTDIR) {
        return sfn_task_fail(call, "S3.NoSuchKeyException",
                             "the key \"%s\" does not exist in the bucket "
                             "\"%s\"", obj->key, obj->bucket);
    }

    return sfn_task_fail(call, "States.TaskFailed",
                         "cannot open \"%s\": %s", obj->path, strerror(err));
}


/* copies fd to a new object at path; fails on cancel or a changing source */

static int
sfn_task_file_copy_fd(sfn_task_call_t *call, int in, const struct stat *st,
    const char *path)
{
    int       out, err, fallback;
    char      tmp[SFN_TASK_PATH_MAX];
    char     *buf;
    off_t     done;
    ssize_t   n, w, off;

    out = sfn_task_file_temp(call, path, tmp, sizeof(tmp));
    if (out == -1) {
        return SFN_TASK_FAILED;
    }

    buf = NULL;
    done = 0;
    fallback = 0;
    err = 0;

    for ( ;; ) {
        if (sfn_task_cancelled(call)) {
            close(out);
            unlink(tmp);
            free(buf);
            return sfn_task_fail(call, "States.Timeout",
                                 "the copy to \"%s\" was cancelled", path);
        }

        if (!fallback) {
            n = copy_file_range(in, NULL, out, NULL, SFN_FILE_CHUNK, 0);

            if (n < 0 && done == 0
                && (errno == EXDEV || errno == ENOSYS || errno == EINVAL
                    || errno == EOPNOTSUPP))
            {
                fallback = 1;
                continue;
            }

            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }

                err = errno;
                break;
            }

            if (n == 0) {
                break;
            }

            done += n;
            continue;
        }

        if (buf == NULL) {
            buf = malloc(SFN_FILE_BUF);
            if (buf == NULL) {
                err = ENOMEM;
                break;
            }
        }

        n = read(in, buf, SFN_FILE_BUF);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }

            err = errno;
            break;
        }

        if (n == 0) {
            break;
        }

        for (off = 0; off < n; off += w) {
            w = write(out, buf + off, n - off);

            if (w < 0) {
                if (errno == EINTR) {
                    w = 0;
                    continue;
                }

                err = errno;
                break;
            }
        }

        if (err) {
            break;
        }

        done += n;
    }

    free(buf);

    if (err == 0 && done != st->st_size) {
        close(out);
        unlink(tmp);
        return sfn_task_fail(call, "States.TaskFailed",
                             "the source changed during the copy to \"%s\"",
                             path);
    }

    if (err) {
        close(out);
        unlink(tmp);
        return sfn_task_fail(call, "States.TaskFailed",
                             "copy to \"%s\" failed: %s", tmp, strerror(err));
    }

    return sfn_task_file_commit(call, out, tmp, path);
}


static int
sfn_task_file_do_copy(sfn_task_call_t *call, sfn_file_req_t *req)
{
    int          fd, rc;
    struct stat  st, dst;

    fd = open(req->src.path, O_RDONLY|O_CLOEXEC);
    if (fd == -1) {
        return sfn_task_file_no_such_key(call, &req->src, errno);
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sfn_task_file_no_such_key(call, &req->src, ENOENT);
    }

    /* onto itself: nothing to do, and truncating would lose the data */

    if (stat(req->dst.path, &dst) == 0
        && dst.st_dev == st.st_dev && dst.st_ino == st.st_ino)
    {
        close(fd);
        return SFN_TASK_OK;
    }

    rc = sfn_task_file_copy_fd(call, fd, &st, req->dst.path);
    close(fd);

    return rc;
}


/* the result: S3's for the aws-sdk form, ours otherwise */

static int
sfn_task_file_result(sfn_task_call_t *call, sfn_file_req_t *req)
{
    char          etag[64], date[32];
    cJSON        *r, *c;
    struct stat   st;

    if (stat(req->dst.path, &st) != 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "stat \"%s\" failed: %s", req->dst.path,
                             strerror(errno));
    }

    /* the ETag nginx sends for this file when the origin serves it */

    snprintf(etag, sizeof(etag), "\"%lx-%llx\"", (unsigned long) st.st_mtime,
             (unsigned long long) st.st_size);

    r = cJSON_CreateObject();

    if (req->aws) {
        c = cJSON_AddObjectToObject(r, "CopyObjectResult");
        cJSON_AddStringToObject(c, "ETag", etag);
        cJSON_AddStringToObject(c, "LastModified",
                                sfn_task_iso8601(date, sizeof(date),
                                                 st.st_mtime, 0));

    } else {
        cJSON_AddStringToObject(r, "bucket", req->dst.bucket);
        cJSON_AddStringToObject(r, "key", req->dst.key);
        cJSON_AddNumberToObject(r, "size", (double) st.st_size);
        cJSON_AddStringToObject(r, "etag", etag);
    }

    call->output = r;

    return SFN_TASK_OK;
}


static int
sfn_task_file_copy(sfn_task_call_t *call)
{
    sfn_file_req_t  req;

    if (sfn_task_file_parse(call, &req) != SFN_TASK_OK
        || sfn_task_file_do_copy(call, &req) != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    return sfn_task_file_result(call, &req);
}


static int
sfn_task_file_move(sfn_task_call_t *call)
{
    int             err;
    struct stat     st;
    sfn_file_req_t  req;

    if (sfn_task_file_parse(call, &req) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    if (stat(req.src.path, &st) != 0) {
        return sfn_task_file_no_such_key(call, &req.src, errno);
    }

    if (!S_ISREG(st.st_mode)) {
        return sfn_task_file_no_such_key(call, &req.src, ENOENT);
    }

    if (sfn_task_mkdirs(req.dst.path) != 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "cannot create the directories of \"%s\": %s",
                             req.dst.path, strerror(errno));
    }

    /* one rename on one file system: the object is never in two places */

    if (rename(req.src.path, req.dst.path) == 0) {
        if (sfn_task_fsync_dir(req.dst.path) != 0
            || sfn_task_fsync_dir(req.src.path) != 0)
        {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "fsync of a directory failed: %s",
                                 strerror(errno));
        }

        return sfn_task_file_result(call, &req);
    }

    err = errno;

    if (err == ENOENT) {
        return sfn_task_file_no_such_key(call, &req.src, err);
    }

    if (err != EXDEV) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "rename \"%s\" to \"%s\" failed: %s",
                             req.src.path, req.dst.path, strerror(err));
    }

    if (sfn_task_file_do_copy(call, &req) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    if (unlink(req.src.path) != 0 && errno != ENOENT) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "copied, but unlink \"%s\" failed: %s",
                             req.src.path, strerror(errno));
    }

    (void) sfn_task_fsync_dir(req.src.path);

    return sfn_task_file_result(call, &req);
}


/*
 * Removes what the directory fd holds, then the directory name in parent:
 * symbolic links are removed, never followed; dot-names (temporary files
 * of a write in progress) go too.  *n counts the files removed.
 */

static int
sfn_task_file_rmtree(sfn_task_call_t *call, int parent, const char *name,
    int depth, long *n)
{
    int             fd, rc;
    DIR            *dir;
    struct stat     st;
    struct dirent  *de;

    if (depth > SFN_FILE_DELETE_DEPTH) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the prefix nests deeper than %d directories",
                             SFN_FILE_DELETE_DEPTH);
    }

    fd = openat(parent, name, O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC);
    if (fd == -1) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "cannot open the directory \"%s\": %s", name,
                             strerror(errno));
    }

    dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return sfn_task_fail(call, "States.TaskFailed",
                             "fdopendir \"%s\" failed: %s", name,
                             strerror(errno));
    }

    rc = SFN_TASK_OK;

    while (rc == SFN_TASK_OK && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (++*n > SFN_FILE_DELETE_MAX) {
            rc = sfn_task_fail(call, "States.TaskFailed",
                               "more than %d objects under the prefix",
                               SFN_FILE_DELETE_MAX);
            break;
        }

        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) {
                continue;
            }

            rc = sfn_task_fail(call, "States.TaskFailed",
                               "stat \"%s\" failed: %s", de->d_name,
                               strerror(errno));
            break;
        }

        if (S_ISDIR(st.st_mode)) {
            --*n;
            rc = sfn_task_file_rmtree(call, fd, de->d_name, depth + 1, n);

        } else if (unlinkat(fd, de->d_name, 0) != 0 && errno != ENOENT) {
            rc = sfn_task_fail(call, "States.TaskFailed",
                               "unlink \"%s\" failed: %s", de->d_name,
                               strerror(errno));
        }
    }

    if (rc == SFN_TASK_OK) {
        (void) fsync(fd);
    }

    closedir(dir);

    if (rc == SFN_TASK_OK && unlinkat(parent, name, AT_REMOVEDIR) != 0
        && errno != ENOENT)
    {
        rc = sfn_task_fail(call, "States.TaskFailed",
                           "rmdir \"%s\" failed: %s", name, strerror(errno));
    }

    return rc;
}


/* {"bucket", "prefix": "dir/"}: the objects under a prefix, as a tree */

static int
sfn_task_file_delete_prefix(sfn_task_call_t *call, const char *bucket,
    const char *prefix)
{
    int           rc, fd;
    long          n;
    char          quoted[1100], key[SFN_KEY_MAX + 1], path[SFN_TASK_PATH_MAX];
    char         *name;
    cJSON        *r;
    size_t        len;
    struct stat   st;

    len = strlen(prefix);

    if (len < 2 || len > SFN_KEY_MAX || prefix[len - 1] != '/'
        || !sfn_key_valid(prefix, len - 1))
    {
        sfn_task_quote(quoted, sizeof(quoted), prefix, len);
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"prefix\" \"%s\" is not a key followed by "
                             "\"/\"", quoted);
    }

    memcpy(key, prefix, len - 1);
    key[len - 1] = '\0';

    if (sfn_task_bucket_path(call, bucket, key, path, sizeof(path)) == NULL) {
        return SFN_TASK_FAILED;
    }

    n = 0;
    rc = SFN_TASK_OK;

    if (lstat(path, &st) != 0) {
        if (errno != ENOENT && errno != ENOTDIR) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "stat \"%s\" failed: %s", path,
                                 strerror(errno));
        }

    } else if (!S_ISDIR(st.st_mode)) {
        sfn_task_quote(quoted, sizeof(quoted), prefix, len);
        return sfn_task_fail(call, "States.TaskFailed",
                             "the prefix \"%s\" names an object, not a "
                             "directory", quoted);

    } else {
        name = strrchr(path, '/');
        *name++ = '\0';

        fd = open(path, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
        if (fd == -1) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "cannot open the directory \"%s\": %s",
                                 path, strerror(errno));
        }

        rc = sfn_task_file_rmtree(call, fd, name, 0, &n);

        if (rc == SFN_TASK_OK) {
            (void) fsync(fd);
        }

        close(fd);
    }

    if (rc != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    /* as S3: a prefix with nothing under it is deleted without error */

    r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "bucket", bucket);
    cJSON_AddStringToObject(r, "prefix", prefix);
    cJSON_AddNumberToObject(r, "deleted", (double) n);

    call->output = r;

    return SFN_TASK_OK;
}


static int
sfn_task_file_delete(sfn_task_call_t *call)
{
    int             aws, deleted;
    cJSON          *r;
    struct stat     st;
    const cJSON    *in, *src;
    sfn_file_obj_t  obj;

    in = call->input;
    memset(&obj, 0, sizeof(sfn_file_obj_t));

    if (!cJSON_IsObject(in)) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "the input is not an object");
    }

    aws = sfn_task_string(in, "Bucket") != NULL;

    if (!aws && sfn_task_string(in, "prefix") != NULL) {
        if (sfn_task_file_resolve_bucket(call, sfn_task_string(in, "bucket"))
            != SFN_TASK_OK)
        {
            return SFN_TASK_FAILED;
        }

        return sfn_task_file_delete_prefix(call, sfn_task_string(in, "bucket"),
                                           sfn_task_string(in, "prefix"));
    }

    if (aws) {
        obj.bucket = sfn_task_string(in, "Bucket");
        obj.key = sfn_task_string(in, "Key");

    } else {
        src = cJSON_GetObjectItemCaseSensitive(in, "source");
        src = cJSON_IsObject(src) ? src : in;

        obj.bucket = sfn_task_string(src, "bucket");
        obj.key = sfn_task_string(src, "key");
    }

    if (sfn_task_file_resolve(call, &obj) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    deleted = 0;

    if (lstat(obj.path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "the key \"%s\" names a directory, not an "
                                 "object", obj.key);
        }

        if (unlink(obj.path) != 0 && errno != ENOENT) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "unlink \"%s\" failed: %s", obj.path,
                                 strerror(errno));
        }

        deleted = 1;
        (void) sfn_task_fsync_dir(obj.path);

    } else if (errno != ENOENT && errno != ENOTDIR) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "stat \"%s\" failed: %s", obj.path,
                             strerror(errno));
    }

    /* as S3: deleting a key that is not there succeeds */

    r = cJSON_CreateObject();

    if (!aws) {
        cJSON_AddStringToObject(r, "bucket", obj.bucket);
        cJSON_AddStringToObject(r, "key", obj.key);
        cJSON_AddBoolToObject(r, "deleted", deleted);
    }

    call->output = r;

    return SFN_TASK_OK;
}
