
/*
 * Copyright (C) ngx_sfn authors
 *
 * The outputs of a transcoding job: MP4 and HLS muxers fed with the
 * encoders' packets, master playlists with the bit rates as written and
 * I-frame playlists, the move of the temporary tree into place, and the
 * job's result in MediaConvert's shape.
 */


#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libavutil/opt.h>

#include "sfn_media_job.h"


/* muxers */


static int
sfn_media_out_path(sfn_media_job_t *job, sfn_media_out_t *out, char *buf,
    size_t size, const char *suffix)
{
    const char          *tmp;
    sfn_media_group_t   *g;

    g = &job->set.groups[out->def.group];
    tmp = job->tmp[g->bucket];

    if ((size_t) snprintf(buf, size, "%s/%s%s%s", tmp, g->prefix,
                          out->def.name, suffix)
        >= size)
    {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "output path is too long");
    }

    return SFN_TASK_OK;
}


int
sfn_media_out_open(sfn_media_job_t *job, sfn_media_out_t *out)
{
    int                 rc;
    char                path[SFN_MEDIA_PATH_MAX];
    AVStream           *st;
    const char         *fmt;
    AVDictionary       *opts;
    sfn_media_group_t  *g;
    sfn_media_rend_t   *r;
    sfn_media_aenc_t   *a;

    g = &job->set.groups[out->def.group];

    if (sfn_media_out_path(job, out, path, sizeof(path),
                           out->def.type == SFN_MEDIA_MP4 ? ".mp4" : ".m3u8")
        != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    snprintf(out->key, sizeof(out->key), "%s%s%s", g->prefix, out->def.name,
             out->def.type == SFN_MEDIA_MP4 ? ".mp4" : ".m3u8");

    if (sfn_media_mkdirs(path, 0) != 0) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "mkdir \"%s\" failed: %s", path,
                             strerror(errno));
    }

    /* HLS: the inner muxer of our segmenter */

    fmt = out->def.type == SFN_MEDIA_HLS_TS ? "mpegts" : "mp4";

    rc = avformat_alloc_output_context2(&out->mux, NULL, fmt,
                                        out->def.type == SFN_MEDIA_MP4
                                        ? path : NULL);
    if (rc < 0) {
        return sfn_media_fail_av(job->call, out->key, "cannot be created",
                                 rc);
    }

    sfn_media_interrupt(&out->mux->interrupt_callback, job->call);

    out->vst = -1;
    out->ast = -1;

    if (out->def.rend >= 0) {
        r = &job->rends[out->def.rend];
        st = avformat_new_stream(out->mux, NULL);

        if (st == NULL) {
            return sfn_task_fail(job->call, "States.TaskFailed",
                                 "out of memory");
        }

        avcodec_parameters_from_context(st->codecpar, r->enc);
        st->time_base = r->enc->time_base;
        st->avg_frame_rate = r->enc->framerate;
        out->vst = st->index;
    }

    if (out->def.aenc >= 0) {
        a = &job->aencs[out->def.aenc];
        st = avformat_new_stream(out->mux, NULL);

        if (st == NULL) {
            return sfn_task_fail(job->call, "States.TaskFailed",
                                 "out of memory");
        }

        avcodec_parameters_from_context(st->codecpar, a->enc);
        st->time_base = a->enc->time_base;
        out->ast = st->index;
    }

    pthread_mutex_init(&out->mutex, NULL);

    opts = NULL;

    if (out->def.type == SFN_MEDIA_MP4) {
        av_dict_set(&opts, "movflags", "+faststart", 0);

        rc = avio_open2(&out->mux->pb, path, AVIO_FLAG_WRITE,
                        &out->mux->interrupt_callback, NULL);

    } else {
        rc = sfn_media_seg_open(job, out, &opts);
    }

    if (rc >= 0) {
        rc = avformat_write_header(out->mux, &opts);
    }

    av_dict_free(&opts);

    if (rc < 0) {
        return sfn_media_fail_av(job->call, out->key, "cannot be written",
                                 rc);
    }

    return SFN_TASK_OK;
}


/* hands a packet of rendition or audio encoding "index" to its muxers */

static int
sfn_media_emit(sfn_media_job_t *job, AVPacket *pkt, int video, int index,
    AVRational tb)
{
    int               i, rc, si;
    AVPacket         *p;
    sfn_media_out_t  *out;

    for (i = 0; i < job->nouts; i++) {
        out = &job->outs[i];

        if (video ? out->def.rend != index : out->def.aenc != index) {
            continue;
        }

        si = video ? out->vst : out->ast;

        p = av_packet_clone(pkt);
        if (p == NULL) {
            return AVERROR(ENOMEM);
        }

        p->stream_index = si;

        pthread_mutex_lock(&out->mutex);

        if (p->pts != AV_NOPTS_VALUE
            && (pkt->pts + pkt->duration) * av_q2d(tb) > out->end)
        {
            out->end = (pkt->pts + pkt->duration) * av_q2d(tb);
        }

        if (out->seg) {
            rc = sfn_media_seg_write(job, out, p, tb);

        } else {
            av_packet_rescale_ts(p, tb, out->mux->streams[si]->time_base);
            rc = av_interleaved_write_frame(out->mux, p);
            av_packet_free(&p);
        }

        pthread_mutex_unlock(&out->mutex);

        if (rc < 0) {
            return rc;
        }
    }

    return 0;
}


int
sfn_media_drain(sfn_media_job_t *job, AVCodecContext *enc, int video,
    int index, int64_t *bytes)
{
    int        rc;
    AVPacket  *pkt;

    pkt = av_packet_alloc();
    if (pkt == NULL) {
        return AVERROR(ENOMEM);
    }

    for ( ;; ) {
        rc = avcodec_receive_packet(enc, pkt);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            rc = 0;
            break;
        }

        if (rc < 0) {
            break;
        }

        if (bytes) {
            *bytes += pkt->size;
        }

        rc = sfn_media_emit(job, pkt, video, index, enc->time_base);
        av_packet_unref(pkt);

        if (rc < 0) {
            break;
        }
    }

    av_packet_free(&pkt);

    return rc;
}


/* results */


typedef struct {
    sfn_media_out_t      *out;
    double                peak;         /* bits/s */
    double                average;
    double                iframe_peak;
    char                  iframes[1024]; /* I-frame playlist, "" if none */
} sfn_media_variant_t;


/* peak and average bit rates from the segments of a media playlist */

static int
sfn_media_measure(const char *dir, const char *playlist,
    sfn_media_variant_t *v, double *total)
{
    FILE       *pl;
    char        path[SFN_MEDIA_PATH_MAX], line[1024];
    double      segdur;
    size_t      dlen;
    long long   size, bytes;

    if (sfn_media_fmt(path, sizeof(path), "%s/%s", dir, playlist) < 0) {
        return -1;
    }

    pl = fopen(path, "r");
    if (pl == NULL) {
        return -1;
    }

    dlen = strrchr(path, '/') + 1 - path;

    *total = 0;
    v->peak = 0;
    bytes = 0;
    segdur = 0;
    size = 1;

    while (fgets(line, sizeof(line), pl)) {
        line[strcspn(line, "\r\n")] = '\0';

        if (strncmp(line, "#EXTINF:", 8) == 0) {
            segdur = atof(line + 8);
            continue;
        }

        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }

        size = dlen + strlen(line) < sizeof(path)
               ? (strcpy(path + dlen, line), sfn_media_file_size(path)) : 0;

        if (size <= 0) {
            break;
        }

        if (segdur > 0) {
            bytes += size;
            *total += segdur;

            if (size * 8.0 / segdur > v->peak) {
                v->peak = size * 8.0 / segdur;
            }
        }
    }

    fclose(pl);

    /* a playlist that names a file not written is no success */

    if (size <= 0) {
        return -1;
    }

    v->average = *total > 0 ? bytes * 8.0 / *total : 0;

    return 0;
}


/*
 * The key frames of an MPEG-TS segment, for I-frame playlists: each runs
 * from the PSI packets just before its PES (a player needs the PAT and
 * PMT to decode it alone) to the start of the next video PES.
 */

typedef struct {
    long long             offset;
    long long             length;
    double                pts;          /* seconds, -1 if unknown */
} sfn_media_key_t;


static int
sfn_media_ts_keys(const char *path, sfn_media_key_t *keys, int max)
{
    int             n, pid, vpid, pmt, afc, pusi, open, len, pil, i;
    FILE           *fp;
    long long       off, psi;
    const uint8_t  *p, *s, *end;
    uint8_t         pkt[188];

    fp = fopen(path, "r");
    if (fp == NULL) {
        return -1;
    }

    n = 0;
    vpid = -1;
    pmt = -1;
    open = 0;
    psi = -1;

    for (off = 0; fread(pkt, 1, 188, fp) == 188; off += 188) {
        if (pkt[0] != 0x47) {
            break;
        }

        pid = ((pkt[1] & 0x1f) << 8) | pkt[2];
        pusi = pkt[1] & 0x40;
        afc = (pkt[3] >> 4) & 3;
        p = pkt + 4;
        end = pkt + 188;

        if (afc & 2) {
            p += 1 + pkt[4];
        }

        if (!(afc & 1) || p >= end) {
            continue;
        }

        if (pid == 0 || pid == pmt) {
            if (psi < 0) {
                psi = off;
            }

            if (!pusi || p + 1 + p[0] + 12 > end) {
                continue;
            }

            s = p + 1 + p[0];

            if (pid == 0 && s[0] == 0x00) {
                pmt = ((s[10] & 0x1f) << 8) | s[11];

            } else if (pid == pmt && s[0] == 0x02) {
                len = ((s[1] & 0x0f) << 8) | s[2];
                pil = ((s[10] & 0x0f) << 8) | s[11];

                for (i = 12 + pil; i + 5 <= len - 1 && s + i + 5 <= end;
                     i += 5 + (((s[i + 3] & 0x0f) << 8) | s[i + 4]))
                {
                    if (s[i] == 0x1b) {
                        vpid = ((s[i + 1] & 0x1f) << 8) | s[i + 2];
                        break;
                    }
                }
            }

            continue;
        }

        if (pid != vpid || !pusi) {
            if (pid != vpid) {
                psi = -1;
            }

            continue;
        }

        /* a new video PES: the key frame before it ends here */

        if (open) {
            keys[n - 1].length = (psi >= 0 ? psi : off)
                                 - keys[n - 1].offset;
            open = 0;
        }

        if ((afc & 2) && pkt[4] > 0 && (pkt[5] & 0x40) && n < max) {
            keys[n].offset = psi >= 0 ? psi : off;
            keys[n].pts = -1;

            if (p + 14 <= end && p[0] == 0 && p[1] == 0 && p[2] == 1
                && (p[7] & 0x80))
            {
                keys[n].pts = ((((int64_t) p[9] >> 1) & 7) << 30
                               | (int64_t) p[10] << 22
                               | ((int64_t) p[11] >> 1) << 15
                               | (int64_t) p[12] << 7 | p[13] >> 1)
                              / 90000.0;
            }

            n++;
            open = 1;
        }

        psi = -1;
    }

    if (open) {
        keys[n - 1].length = off - keys[n - 1].offset;
    }

    fclose(fp);

    return n;
}


/* the I-frame playlist of a TS variant, beside its media playlist */

static int
sfn_media_iframes(const char *dir, sfn_media_variant_t *v)
{
    int               i, n, ok;
    FILE             *pl, *fp;
    char              path[SFN_MEDIA_PATH_MAX], line[1024], name[1024];
    char             *text, *p;
    size_t            len;
    double            segdur, start, d, target;
    sfn_media_key_t   keys[64];

    p = strrchr(v->out->key, '/');
    snprintf(name, sizeof(name), "%s", p ? p + 1 : v->out->key);
    name[strlen(name) - 5] = '\0';

    if (sfn_media_fmt(path, sizeof(path), "%s/%s", dir, v->out->key) < 0) {
        return -1;
    }

    pl = fopen(path, "r");
    if (pl == NULL) {
        return -1;
    }

    *(strrchr(path, '/') + 1) = '\0';

    fp = open_memstream(&text, &len);
    if (fp == NULL) {
        fclose(pl);
        return -1;
    }

    segdur = 0;
    target = 1;
    ok = 1;
    v->iframe_peak = 0;

    while (ok && fgets(line, sizeof(line), pl)) {
        line[strcspn(line, "\r\n")] = '\0';

        if (strncmp(line, "#EXTINF:", 8) == 0) {
            segdur = atof(line + 8);
            continue;
        }

        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }

        p = path + strlen(path);

        if (p - path + strlen(line) >= sizeof(path)) {
            ok = 0;
            break;
        }

        strcpy(p, line);
        n = sfn_media_ts_keys(path, keys, 64);
        *p = '\0';

        if (n <= 0) {
            ok = 0;
            break;
        }

        start = keys[0].pts;

        for (i = 0; i < n; i++) {
            d = i + 1 < n && keys[i + 1].pts >= 0 && keys[i].pts >= 0
                ? keys[i + 1].pts - keys[i].pts
                : start >= 0 && keys[i].pts >= 0
                  ? start + segdur - keys[i].pts : segdur / n;

            if (d <= 0 || keys[i].length <= 0) {
                continue;
            }

            if (d > target) {
                target = d;
            }

            if (keys[i].length * 8.0 / d > v->iframe_peak) {
                v->iframe_peak = keys[i].length * 8.0 / d;
            }

            fprintf(fp, "#EXTINF:%.6f,\n#EXT-X-BYTERANGE:%lld@%lld\n%s\n",
                    d, keys[i].length, keys[i].offset, line);
        }
    }

    fclose(pl);
    fclose(fp);

    if (!ok || len == 0) {
        free(text);
        return -1;
    }

    snprintf(v->iframes, sizeof(v->iframes), "%s_iframes.m3u8", name);

    sfn_media_fmt(line, sizeof(line), "%s%s", path, v->iframes);
    fp = fopen(line, "w");

    if (fp == NULL) {
        free(text);
        return -1;
    }

    fprintf(fp, "#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:%.0f\n"
            "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
            "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-I-FRAMES-ONLY\n%s"
            "#EXT-X-ENDLIST\n", ceil(target), text);
    free(text);

    return fclose(fp) == 0 ? 0 : -1;
}


static int
sfn_media_variant_cmp(const void *a, const void *b)
{
    const sfn_media_variant_t  *x = a, *y = b;

    /* video from the top bit rate down, then audio only */

    if ((x->out->def.rend >= 0) != (y->out->def.rend >= 0)) {
        return x->out->def.rend >= 0 ? -1 : 1;
    }

    return x->peak < y->peak ? 1 : x->peak > y->peak ? -1 : 0;
}


static void
sfn_media_variant_print(FILE *fp, sfn_media_job_t *job,
    sfn_media_variant_t *v)
{
    char              *p;
    sfn_media_rend_t  *r;

    fprintf(fp, "#EXT-X-STREAM-INF:BANDWIDTH=%.0f,AVERAGE-BANDWIDTH=%.0f",
            v->peak, v->average);

    if (v->out->def.rend >= 0) {
        r = &job->rends[v->out->def.rend];
        fprintf(fp, ",RESOLUTION=%dx%d,CODECS=\"%s%s\",FRAME-RATE=%.3f",
                r->ow, r->oh, r->codecs,
                v->out->def.aenc >= 0 ? ",mp4a.40.2" : "",
                av_q2d(r->enc->framerate));

    } else {
        fprintf(fp, ",CODECS=\"mp4a.40.2\"");
    }

    p = strrchr(v->out->key, '/');
    fprintf(fp, "\n%s\n", p ? p + 1 : v->out->key);
}


/*
 * The master playlist of group g over the media playlists under dir: the
 * job's temporary tree at the end (final: I-frame playlists too, and the
 * durations), the bucket during a preview.  A middle rung comes first, as
 * players start with the first variant; the others follow from the top
 * down, audio only last.  Returns the text (malloc) or NULL, with why.
 */

char *
sfn_media_master_text(sfn_media_job_t *job, sfn_media_group_t *g,
    const char *dir, int final, const char **why)
{
    int                   i, n, nv, mid;
    FILE                 *fp;
    char                 *text;
    size_t                len;
    double                total;
    sfn_media_out_t      *out;
    sfn_media_variant_t   v[SFN_MEDIA_MAX_OUTS];

    n = 0;

    for (i = 0; i < job->nouts; i++) {
        out = &job->outs[i];

        if (out->def.group != (int) (g - job->set.groups)) {
            continue;
        }

        memset(&v[n], 0, sizeof(sfn_media_variant_t));
        v[n].out = out;

        if (sfn_media_measure(dir, out->key, &v[n], &total) != 0) {
            *why = out->key;
            return NULL;
        }

        if (final) {
            out->duration = total;

            if (out->def.rend >= 0 && g->type == SFN_MEDIA_HLS_TS
                && sfn_media_iframes(dir, &v[n]) != 0)
            {
                *why = out->key;
                return NULL;
            }
        }

        n++;
    }

    qsort(v, n, sizeof(sfn_media_variant_t), sfn_media_variant_cmp);

    for (nv = 0; nv < n && v[nv].out->def.rend >= 0; nv++) {
        /* void */
    }

    mid = nv / 2;

    fp = open_memstream(&text, &len);
    if (fp == NULL) {
        *why = "memory";
        return NULL;
    }

    fprintf(fp, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-INDEPENDENT-SEGMENTS\n",
            g->type == SFN_MEDIA_HLS_FMP4 ? 7 : 4);

    if (n) {
        sfn_media_variant_print(fp, job, &v[mid]);
    }

    for (i = 0; i < n; i++) {
        if (i != mid) {
            sfn_media_variant_print(fp, job, &v[i]);
        }
    }

    for (i = 0; i < n; i++) {
        if (v[i].iframes[0]) {
            fprintf(fp, "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=%.0f,"
                    "RESOLUTION=%dx%d,CODECS=\"%s\",URI=\"%s\"\n",
                    v[i].iframe_peak, job->rends[v[i].out->def.rend].ow,
                    job->rends[v[i].out->def.rend].oh,
                    job->rends[v[i].out->def.rend].codecs, v[i].iframes);
        }
    }

    if (fclose(fp) != 0) {
        free(text);
        *why = "memory";
        return NULL;
    }

    return text;
}


int
sfn_media_master(sfn_media_job_t *job, sfn_media_group_t *g, cJSON *list)
{
    int          i;
    FILE        *fp;
    char        *text;
    char         path[SFN_MEDIA_PATH_MAX];
    const char  *tmp, *why;

    tmp = job->tmp[g->bucket];

    text = sfn_media_master_text(job, g, tmp, 1, &why);

    if (text == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "\"%s\": it, a segment it lists or its I-frame "
                             "index was not written", why);
    }

    snprintf(path, sizeof(path), "%s/%s%s.m3u8", tmp, g->prefix, g->base);

    fp = fopen(path, "w");

    if (fp != NULL) {
        i = fputs(text, fp);
        i = fclose(fp) != 0 || i == EOF;
    }

    free(text);

    if (fp == NULL || i) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "cannot write \"%s\": %s", path,
                             strerror(errno));
    }
    (void) list;

    return SFN_TASK_OK;
}


/* moves every file of the temporary tree into place */

int
sfn_media_commit_dir(sfn_media_job_t *job, const char *tmp, const char *root,
    const char *rel)
{
    int             rc;
    DIR            *dir;
    char            src[SFN_MEDIA_PATH_MAX], dst[SFN_MEDIA_PATH_MAX];
    char            sub[SFN_MEDIA_PATH_MAX];
    struct stat     sb;
    struct dirent  *de;

    snprintf(src, sizeof(src), "%s/%s", tmp, rel);

    dir = opendir(src);
    if (dir == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "opendir \"%s\" failed: %s", src,
                             strerror(errno));
    }

    rc = SFN_TASK_OK;

    while (rc == SFN_TASK_OK && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }

        snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
                 de->d_name);
        sfn_media_fmt(src, sizeof(src), "%s/%s", tmp, sub);
        sfn_media_fmt(dst, sizeof(dst), "%s/%s", root, sub);

        if (lstat(src, &sb) == -1) {
            continue;
        }

        if (S_ISDIR(sb.st_mode)) {
            rc = sfn_media_commit_dir(job, tmp, root, sub);
            continue;
        }

        if (sfn_media_mkdirs(dst, 0) != 0 || rename(src, dst) != 0) {
            rc = sfn_task_fail(job->call, "States.TaskFailed",
                               "rename \"%s\" to \"%s\" failed: %s", src, dst,
                               strerror(errno));
        }
    }

    closedir(dir);

    return rc;
}


static void
sfn_media_s3(char *buf, size_t size, const char *bucket, const char *key)
{
    sfn_media_fmt(buf, size, "s3://%s/%s", bucket, key);
}


cJSON *
sfn_media_result(sfn_media_job_t *job, const cJSON *settings,
    const char *job_id, double elapsed)
{
    int                  i, j, k, n;
    char                 buf[2048], url[2048], ts[64];
    cJSON               *res, *jb, *ogd, *gd, *ods, *od, *paths, *vdt;
    cJSON               *list, *o, *pls, *item, *timing;
    time_t               now;
    struct tm            tm;
    const cJSON         *um;
    sfn_media_out_t     *out;
    sfn_media_rend_t    *r;
    sfn_media_group_t   *g;
    sfn_media_thumbs_t  *th;

    res = cJSON_CreateObject();
    jb = cJSON_AddObjectToObject(res, "Job");
    list = cJSON_CreateArray();

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);

    cJSON_AddStringToObject(jb, "Id", job_id);
    cJSON_AddStringToObject(jb, "Status", "COMPLETE");
    cJSON_AddNumberToObject(jb, "JobPercentComplete", 100);
    cJSON_AddStringToObject(jb, "CreatedAt", ts);
    timing = cJSON_AddObjectToObject(jb, "Timing");
    cJSON_AddStringToObject(timing, "FinishTime", ts);
    cJSON_AddNumberToObject(timing, "ElapsedSeconds",
                            floor(elapsed * 1000) / 1000);
    cJSON_AddItemToObject(jb, "Settings", cJSON_Duplicate(settings, 1));

    um = cJSON_GetObjectItemCaseSensitive(job->call->input, "UserMetadata");
    if (um) {
        cJSON_AddItemToObject(jb, "UserMetadata", cJSON_Duplicate(um, 1));
    }

    ogd = cJSON_AddArrayToObject(jb, "OutputGroupDetails");

    for (i = 0; i < job->set.ngroups; i++) {
        g = &job->set.groups[i];
        gd = cJSON_CreateObject();
        cJSON_AddItemToArray(ogd, gd);
        cJSON_AddStringToObject(gd, "Type", g->gtype);
        ods = cJSON_AddArrayToObject(gd, "OutputDetails");

        if (g->type != SFN_MEDIA_MP4) {
            snprintf(buf, sizeof(buf), "%s%s.m3u8", g->prefix, g->base);
            pls = cJSON_AddArrayToObject(gd, "PlaylistFilePaths");
            sfn_media_s3(url, sizeof(url), g->bucket_name, buf);
            cJSON_AddItemToArray(pls, cJSON_CreateString(url));

            item = cJSON_CreateObject();

            cJSON_AddStringToObject(item, "format", "hls");
            cJSON_AddStringToObject(item, "group", g->name);
            cJSON_AddStringToObject(item, "bucket", g->bucket_name);
            cJSON_AddStringToObject(item, "key", buf);
            cJSON_AddStringToObject(item, "segmentType",
                                    g->type == SFN_MEDIA_HLS_FMP4
                                    ? "fmp4" : "ts");
            cJSON_AddNumberToObject(item, "segmentLength", g->seglen);
            cJSON_AddItemToObject(item, "renditions", cJSON_CreateArray());
            cJSON_AddItemToArray(list, item);
        }

        for (j = 0; j < job->nouts; j++) {
            out = &job->outs[j];

            if (out->def.group != i) {
                continue;
            }

            od = cJSON_CreateObject();
            cJSON_AddItemToArray(ods, od);
            paths = cJSON_AddArrayToObject(od, "OutputFilePaths");
            sfn_media_s3(buf, sizeof(buf), g->bucket_name, out->key);
            cJSON_AddItemToArray(paths, cJSON_CreateString(buf));
            cJSON_AddNumberToObject(od, "DurationInMs",
                                    floor(out->duration * 1000));

            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "format",
                                    out->def.type == SFN_MEDIA_MP4
                                    ? "mp4" : "hls");
            cJSON_AddStringToObject(o, "group", g->name);
            cJSON_AddStringToObject(o, "bucket", g->bucket_name);
            cJSON_AddStringToObject(o, "key", out->key);
            cJSON_AddNumberToObject(o, "duration",
                                    floor(out->duration * 1000) / 1000);

            if (out->def.rend >= 0) {
                r = &job->rends[out->def.rend];
                vdt = cJSON_AddObjectToObject(od, "VideoDetails");
                cJSON_AddNumberToObject(vdt, "WidthInPx", r->ow);
                cJSON_AddNumberToObject(vdt, "HeightInPx", r->oh);

                cJSON_AddNumberToObject(o, "width", r->ow);
                cJSON_AddNumberToObject(o, "height", r->oh);
                cJSON_AddNumberToObject(o, "videoBitrate",
                    out->duration > 0
                    ? floor(r->bytes * 8 / out->duration) : 0);
                cJSON_AddStringToObject(o, "codecs", r->codecs);
            }

            cJSON_AddBoolToObject(o, "audio", out->def.aenc >= 0);
            sfn_media_quality(job, out, o);

            if (out->def.type == SFN_MEDIA_MP4) {
                snprintf(buf, sizeof(buf), "%s/%s",
                         job->set.buckets[g->bucket].root, out->key);
                cJSON_AddNumberToObject(o, "size",
                                        (double) sfn_media_file_size(buf));
                cJSON_AddItemToArray(list, o);

            } else {
                /* when a player could have started on it */

                if (out->first_at > 0) {
                    cJSON_AddNumberToObject(o, "firstSegmentAt",
                                            floor(out->first_at * 1000)
                                            / 1000);
                }

                /* a variant: listed under its master playlist */

                n = cJSON_GetArraySize(list);

                for (k = n - 1; k >= 0; k--) {
                    item = cJSON_GetArrayItem(list, k);

                    if (strcmp(sfn_task_string(item, "group"), g->name) == 0
                        && cJSON_GetObjectItemCaseSensitive(item,
                                                            "renditions"))
                    {
                        cJSON_AddItemToArray(
                            cJSON_GetObjectItemCaseSensitive(item,
                                                             "renditions"),
                            o);
                        cJSON_DeleteItemFromObject(item, "duration");
                        cJSON_AddNumberToObject(item, "duration",
                            floor(out->duration * 1000) / 1000);
                        o = NULL;
                        break;
                    }
                }

                if (o) {
                    cJSON_AddItemToArray(list, o);
                }
            }
        }

        for (j = 0; j < job->nthumbs; j++) {
            th = &job->thumbs[j];

            if (th->def.group != i) {
                continue;
            }

            od = cJSON_CreateObject();
            cJSON_AddItemToArray(ods, od);
            paths = cJSON_AddArrayToObject(od, "OutputFilePaths");

            for (k = 0; k < cJSON_GetArraySize(th->files); k++) {
                item = cJSON_GetArrayItem(th->files, k);
                sfn_media_s3(buf, sizeof(buf), g->bucket_name,
                             sfn_task_string(item, "key"));
                cJSON_AddItemToArray(paths, cJSON_CreateString(buf));
            }

            vdt = cJSON_AddObjectToObject(od, "VideoDetails");
            cJSON_AddNumberToObject(vdt, "WidthInPx", th->def.width);
            cJSON_AddNumberToObject(vdt, "HeightInPx", th->def.height);

            o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "format", "thumbnails");
            cJSON_AddStringToObject(o, "group", g->name);
            cJSON_AddStringToObject(o, "bucket", g->bucket_name);
            snprintf(buf, sizeof(buf), "%s", g->prefix);
            cJSON_AddStringToObject(o, "prefix", buf);
            cJSON_AddNumberToObject(o, "width", th->def.width);
            cJSON_AddNumberToObject(o, "height", th->def.height);
            cJSON_AddNumberToObject(o, "count", th->count);
            cJSON_AddItemToObject(o, "files",
                                  cJSON_Duplicate(th->files, 1));
            sfn_media_thumbs_result(th, o);
            cJSON_AddItemToArray(list, o);
        }
    }

    cJSON_AddItemToObject(res, "outputs", list);

    return res;
}
