
/*
 * Copyright (C) ngx_sfn authors
 *
 * The progressive publish of a transcoding job ("Preview": true).  Each
 * time the segmenter closes a segment of a variant, it hands over the
 * variant's EVENT playlist: the segments it names that are not yet shown
 * are linked from the temporary tree into the bucket, then the playlist
 * follows them, each with one rename, so the origin never serves a
 * partial file.  Once every variant of a group has a segment, its master
 * follows.  The marker .sfn-published/<jobId>.preview names the
 * execution: the origin serves the job while that execution runs.  At the
 * end the VOD playlists and the outputs are committed over the links; a
 * job that fails withdraws the marker first, then the files.
 */


#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sfn_media_job.h"
#include "sfn_task_int.h"


typedef struct {
    int                   segments;     /* named files linked so far */
    int                   listed;       /* its playlist is in the bucket */
} sfn_media_pvout_t;


struct sfn_media_preview_s {
    pthread_mutex_t       mutex;
    const char           *root;         /* of the bucket */
    char                  job_id[256];
    int                   marker;
    int                   masters[SFN_MEDIA_MAX_GROUPS];
    char                **files;        /* placed in the bucket */
    int                   nfiles;
    int                   size;

    sfn_media_pvout_t     outs[SFN_MEDIA_MAX_OUTS];
};


int
sfn_media_preview_open(sfn_media_job_t *job)
{
    int                   i, n;
    char                  id[256];
    const char           *p, *q;
    const cJSON          *on;
    sfn_media_group_t    *g, *first;
    sfn_media_preview_t  *pv;

    pv = NULL;

    on = cJSON_GetObjectItemCaseSensitive(job->call->input, "Preview");

    if (on && !cJSON_IsBool(on)) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "\"Preview\" must be true or false");
    }

    if (!cJSON_IsTrue(on)) {
        return SFN_TASK_OK;
    }

    /* the origin's layout: every HLS group under <dir>/<jobId>/ */

    first = NULL;

    for (i = 0; i < job->set.ngroups; i++) {
        g = &job->set.groups[i];

        if (g->type == SFN_MEDIA_MP4 || g->thumbs) {
            continue;
        }

        p = strchr(g->prefix, '/');
        q = p ? strchr(p + 1, '/') : NULL;
        n = q ? (int) (q - p - 1) : 0;

        if (n == 0 || n >= (int) sizeof(id)) {
            return sfn_task_fail(job->call, "States.TaskFailed",
                                 "\"Preview\": the HLS destination \"%s\" is "
                                 "not \"<dir>/<jobId>/\", as the origin "
                                 "serves jobs", g->prefix);
        }

        snprintf(id, sizeof(id), "%.*s", n, p + 1);

        if (first == NULL) {
            first = g;

            pv = calloc(1, sizeof(sfn_media_preview_t));
            if (pv == NULL) {
                return sfn_task_fail(job->call, "States.TaskFailed",
                                     "out of memory");
            }

            pthread_mutex_init(&pv->mutex, NULL);
            pv->root = job->set.buckets[g->bucket].root;
            snprintf(pv->job_id, sizeof(pv->job_id), "%s", id);
            job->preview = pv;

        } else if (g->bucket != first->bucket || strcmp(id, pv->job_id) != 0)
        {
            return sfn_task_fail(job->call, "States.TaskFailed",
                                 "\"Preview\": HLS groups \"%s\" and \"%s\" "
                                 "are not one job in one bucket", first->name,
                                 g->name);
        }
    }

    if (first == NULL) {
        return SFN_TASK_OK;
    }

    /* without an execution no origin can tell it runs: files only */

    if (job->call->env == NULL || job->call->env->execution == NULL) {
        return SFN_TASK_OK;
    }

    if (sfn_task_origin_preview(job->call, pv->root, pv->job_id,
                                job->call->env->execution)
        != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    pv->marker = 1;

    return SFN_TASK_OK;
}


/* a file placed for the first time, withdrawn if the job fails */

static int
sfn_media_preview_record(sfn_media_preview_t *pv, const char *path)
{
    char **f;

    if (pv->nfiles == pv->size) {
        pv->size = pv->size ? pv->size * 2 : 64;
        f = realloc(pv->files, pv->size * sizeof(char *));

        if (f == NULL) {
            errno = ENOMEM;
            return -1;
        }

        pv->files = f;
    }

    pv->files[pv->nfiles] = strdup(path);

    if (pv->files[pv->nfiles] == NULL) {
        errno = ENOMEM;
        return -1;
    }

    pv->nfiles++;

    return 0;
}


/* a dot name beside path: no client can name it, no walk lists it */

static int
sfn_media_preview_temp(const char *path, char *buf, size_t size)
{
    const char  *slash;

    slash = strrchr(path, '/');

    if (slash == NULL
        || sfn_media_fmt(buf, size, "%.*s/.sfn-tmp-%s.XXXXXX",
                         (int) (slash - path), path, slash + 1) < 0)
    {
        errno = ENAMETOOLONG;
        return -1;
    }

    return 0;
}


static int
sfn_media_preview_write(sfn_media_preview_t *pv, const char *path,
    const char *text, size_t len, int record)
{
    int   fd;
    char  tmp[SFN_MEDIA_PATH_MAX];

    if (sfn_media_preview_temp(path, tmp, sizeof(tmp)) != 0
        || sfn_media_mkdirs(path, 0) != 0)
    {
        return -1;
    }

    fd = mkstemp(tmp);
    if (fd == -1) {
        return -1;
    }

    if (write(fd, text, len) != (ssize_t) len) {
        close(fd);
        unlink(tmp);
        errno = EIO;
        return -1;
    }

    if (fchmod(fd, 0644) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }

    return record ? sfn_media_preview_record(pv, path) : 0;
}


/* a finished segment into the bucket: a hard link, else a copy */

static int
sfn_media_preview_place(sfn_media_preview_t *pv, const char *src,
    const char *dst)
{
    int       fd, in;
    char      tmp[SFN_MEDIA_PATH_MAX], buf[65536];
    ssize_t   n;

    if (sfn_media_preview_temp(dst, tmp, sizeof(tmp)) != 0
        || sfn_media_mkdirs(dst, 0) != 0)
    {
        return -1;
    }

    fd = mkstemp(tmp);
    if (fd == -1) {
        return -1;
    }

    close(fd);
    unlink(tmp);

    if (link(src, tmp) != 0) {
        if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
            return -1;
        }

        n = 0;
        in = open(src, O_RDONLY);
        fd = in == -1 ? -1 : open(tmp, O_WRONLY|O_CREAT|O_EXCL, 0644);

        while (fd != -1 && (n = read(in, buf, sizeof(buf))) > 0) {
            if (write(fd, buf, n) != n) {
                n = -1;
                break;
            }
        }

        if (in != -1) {
            close(in);
        }

        if (fd == -1 || n < 0 || close(fd) != 0) {
            unlink(tmp);
            errno = EIO;
            return -1;
        }
    }

    if (rename(tmp, dst) != 0) {
        unlink(tmp);
        return -1;
    }

    return sfn_media_preview_record(pv, dst);
}


static int
sfn_media_preview_master(sfn_media_job_t *job, sfn_media_group_t *g)
{
    int                   i, gi, rc;
    char                 *text;
    char                  path[SFN_MEDIA_PATH_MAX];
    const char           *why;
    sfn_media_preview_t  *pv;

    pv = job->preview;
    gi = (int) (g - job->set.groups);

    if (pv->masters[gi]) {
        return 0;
    }

    for (i = 0; i < job->nouts; i++) {
        if (job->outs[i].def.group == gi && pv->outs[i].segments == 0) {
            return 0;
        }
    }

    text = sfn_media_master_text(job, g, pv->root, 0, &why);
    if (text == NULL) {
        errno = ENOENT;
        return -1;
    }

    if (sfn_media_fmt(path, sizeof(path), "%s/%s%s.m3u8", pv->root,
                      g->prefix, g->base) < 0)
    {
        free(text);
        errno = ENAMETOOLONG;
        return -1;
    }

    rc = sfn_media_preview_write(pv, path, text, strlen(text), 1);
    free(text);

    if (rc == 0) {
        pv->masters[gi] = 1;
    }

    return rc;
}


/*
 * The files a new version of out's playlist names for the first time,
 * then the playlist: what the segmenter has just closed, nothing older.
 */

int
sfn_media_preview_segment(sfn_media_job_t *job, sfn_media_out_t *out,
    const char **names, int n, const char *text, size_t len)
{
    int                   i, rc;
    char                  src[SFN_MEDIA_PATH_MAX], dst[SFN_MEDIA_PATH_MAX];
    size_t                dlen;
    sfn_media_pvout_t    *po;
    sfn_media_preview_t  *pv;

    pv = job->preview;
    po = &pv->outs[out - job->outs];

    pthread_mutex_lock(&pv->mutex);

    /* the directory of the key, in both trees */

    dlen = strrchr(out->key, '/') - out->key + 1;
    rc = 0;

    for (i = 0; rc == 0 && i < n; i++) {
        if (strchr(names[i], '/') != NULL
            || sfn_media_fmt(src, sizeof(src), "%s/%.*s%s",
                             job->tmp[job->set.groups[out->def.group].bucket],
                             (int) dlen, out->key, names[i])
               < 0
            || sfn_media_fmt(dst, sizeof(dst), "%s/%.*s%s", pv->root,
                             (int) dlen, out->key, names[i])
               < 0)
        {
            errno = EINVAL;
            rc = -1;
            break;
        }

        rc = sfn_media_preview_place(pv, src, dst);

        if (rc == 0) {
            po->segments++;
        }
    }

    if (rc == 0 && po->segments > 0) {
        sfn_media_fmt(dst, sizeof(dst), "%s/%s", pv->root, out->key);
        rc = sfn_media_preview_write(pv, dst, text, len, !po->listed);

        if (rc == 0) {
            po->listed = 1;
        }
    }

    if (rc == 0 && po->segments > 0) {
        rc = sfn_media_preview_master(job,
                                      &job->set.groups[out->def.group]);
    }

    pthread_mutex_unlock(&pv->mutex);

    return rc;
}


void
sfn_media_preview_close(sfn_media_job_t *job, int ok)
{
    int                   i;
    sfn_media_preview_t  *pv;

    pv = job->preview;

    if (pv == NULL) {
        return;
    }

    /* withdrawn: the marker first, then the files */

    if (!ok) {
        if (pv->marker) {
            (void) sfn_task_origin_withdraw(pv->root, pv->job_id, 0);
        }

        for (i = pv->nfiles - 1; i >= 0; i--) {
            (void) unlink(pv->files[i]);
        }
    }

    for (i = 0; i < pv->nfiles; i++) {
        free(pv->files[i]);
    }

    free(pv->files);
    pthread_mutex_destroy(&pv->mutex);
    free(pv);
    job->preview = NULL;
}
