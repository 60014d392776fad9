
/*
 * Copyright (C) ngx_sfn authors
 *
 * The HLS segmenter.  One inner muxer per variant (MPEG-TS, or fragmented
 * MP4 for fMP4/CMAF, as FFmpeg's hlsenc drives it) is fed in decoding
 * order by a small interleaver and cut where the group's boundaries fall:
 * a short first segment (FirstSegmentLength), then the multiples of
 * SegmentLength, each on the IDR frame the encoders forced there.  The
 * media playlists are ours: an EVENT one handed to the preview as soon as
 * a segment is closed, a VOD one with ENDLIST at the end.
 */


#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/opt.h>

#include "sfn_media_job.h"


/* as FFmpeg's interleaver: one stream never waits for the other longer */
#define SFN_MEDIA_SEG_DELTA    10.0


typedef struct sfn_media_pkt_s  sfn_media_pkt_t;

struct sfn_media_pkt_s {
    AVPacket             *pkt;
    sfn_media_pkt_t      *next;
};


typedef struct {
    sfn_media_pkt_t      *head;
    sfn_media_pkt_t      *tail;
    AVRational            tb;           /* of the encoder */
} sfn_media_pktq_t;


struct sfn_media_seg_s {
    sfn_media_group_t    *group;
    int                   fmp4;
    int                   cut;          /* the stream whose key frames cut */
    sfn_media_pktq_t      q[2];
    char                  dir[SFN_MEDIA_PATH_MAX]; /* ends in '/' */
    int                   number;       /* segments closed */
    int                   open;         /* the cut stream has begun */
    int                   init;         /* fMP4: the init segment is out */
    int64_t               start;        /* of this segment, cut stream tb */
    int64_t               end;
    int64_t               next;         /* the next boundary */

    /* the playlist's segment lines, appended as segments close */
    char                 *lines;
    size_t                len;
    size_t                size;
    int                   target;       /* EXT-X-TARGETDURATION */
};


/* the first boundary of g after pts: FirstSegmentLength, then multiples */

static int64_t
sfn_media_seg_next(const sfn_media_group_t *g, int64_t pts, AVRational tb)
{
    int64_t  first, len;

    first = av_rescale_q((int64_t) (g->first * 1000 + 0.5),
                         (AVRational) { 1, 1000 }, tb);
    len = av_rescale_q((int64_t) (g->seglen * 1000 + 0.5),
                       (AVRational) { 1, 1000 }, tb);

    if (pts < first) {
        return first;
    }

    if (len <= 0 || pts / len >= INT64_MAX / len - 1) {
        return INT64_MAX;
    }

    return (pts / len + 1) * len;
}


int64_t
sfn_media_seg_cut(const sfn_media_settings_t *set, int64_t pts,
    AVRational tb)
{
    int                       i;
    int64_t                   next, b;
    const sfn_media_group_t  *g;

    next = INT64_MAX;

    for (i = 0; i < set->ngroups; i++) {
        g = &set->groups[i];

        if (g->type == SFN_MEDIA_MP4 || g->thumbs) {
            continue;
        }

        b = sfn_media_seg_next(g, pts, tb);

        if (b < next) {
            next = b;
        }
    }

    return next;
}


/* the file name of segment number (0: the fMP4 init segment) */

static int
sfn_media_seg_name(sfn_media_out_t *out, int number, char *buf, size_t size)
{
    if (number == 0) {
        return sfn_media_fmt(buf, size, "%s_init.mp4", out->def.name);
    }

    return sfn_media_fmt(buf, size, "%s_%05d.%s", out->def.name, number,
                         out->seg->fmp4 ? "m4s" : "ts");
}


static int
sfn_media_seg_path(sfn_media_out_t *out, int number, char *buf, size_t size)
{
    char  name[SFN_MEDIA_PATH_MAX];

    if (sfn_media_seg_name(out, number, name, sizeof(name)) < 0) {
        return -1;
    }

    return sfn_media_fmt(buf, size, "%s%s", out->seg->dir, name);
}


static int
sfn_media_seg_save(const char *path, const uint8_t *data, int len)
{
    FILE  *fp;
    int    rc;

    fp = fopen(path, "w");
    if (fp == NULL) {
        return AVERROR(errno);
    }

    rc = len > 0 && fwrite(data, 1, len, fp) != (size_t) len;

    if (fclose(fp) != 0 || rc) {
        return AVERROR(errno ? errno : EIO);
    }

    return 0;
}


/* TS: the next segment's file; fMP4: a buffer for its fragment */

static int
sfn_media_seg_begin(sfn_media_job_t *job, sfn_media_out_t *out)
{
    int               rc;
    char              path[SFN_MEDIA_PATH_MAX];
    sfn_media_seg_t  *seg;

    seg = out->seg;

    if (seg->fmp4) {
        return avio_open_dyn_buf(&out->mux->pb);
    }

    if (sfn_media_seg_path(out, seg->number + 1, path, sizeof(path)) < 0) {
        return AVERROR(ENAMETOOLONG);
    }

    rc = avio_open2(&out->mux->pb, path, AVIO_FLAG_WRITE,
                    &out->mux->interrupt_callback, NULL);
    if (rc < 0) {
        return rc;
    }

    /* every segment opens with a PAT and a PMT: it plays alone */

    if (seg->number > 0) {
        rc = av_opt_set(out->mux->priv_data, "mpegts_flags",
                        "+resend_headers", 0);
    }

    return rc;
}


/* the buffered fragment, closed, into file number (0: the init segment) */

static int
sfn_media_seg_buffer(sfn_media_out_t *out, int number)
{
    int       rc, len;
    char      path[SFN_MEDIA_PATH_MAX];
    uint8_t  *data;

    len = avio_close_dyn_buf(out->mux->pb, &data);
    out->mux->pb = NULL;

    if (sfn_media_seg_path(out, number, path, sizeof(path)) < 0) {
        av_free(data);
        return AVERROR(ENAMETOOLONG);
    }

    rc = sfn_media_seg_save(path, data, len);
    av_free(data);

    return rc;
}


/*
 * The media playlist so far, malloc()ed: EVENT while the job runs, VOD
 * with ENDLIST at the end.  Its segment lines were appended once, as their
 * segments closed: a version costs its copy, nothing is rebuilt.  The
 * target duration holds from the first version on, as RFC 8216 asks of a
 * playlist that grows.
 */

static char *
sfn_media_seg_playlist(sfn_media_out_t *out, int final, size_t *len)
{
    int               n;
    char             *text, head[SFN_MEDIA_PATH_MAX + 256];
    size_t            size;
    sfn_media_seg_t  *seg;

    static const char  end[] = "#EXT-X-ENDLIST\n";

    seg = out->seg;

    n = sfn_media_fmt(head, sizeof(head),
                      "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n"
                      "#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-PLAYLIST-TYPE:%s\n"
                      "#EXT-X-INDEPENDENT-SEGMENTS\n%s%s%s",
                      seg->fmp4 ? 7 : 3, seg->target,
                      final ? "VOD" : "EVENT",
                      seg->fmp4 ? "#EXT-X-MAP:URI=\"" : "",
                      seg->fmp4 ? out->def.name : "",
                      seg->fmp4 ? "_init.mp4\"\n" : "");
    if (n < 0) {
        return NULL;
    }

    size = n + seg->len + (final ? sizeof(end) - 1 : 0);

    text = malloc(size + 1);
    if (text == NULL) {
        return NULL;
    }

    memcpy(text, head, n);
    memcpy(text + n, seg->lines, seg->len);

    if (final) {
        memcpy(text + n + seg->len, end, sizeof(end) - 1);
    }

    text[size] = '\0';
    *len = size;

    return text;
}


/* the line of a closed segment appended to the playlist's */

static int
sfn_media_seg_line(sfn_media_out_t *out, double duration)
{
    int               n;
    char             *p, name[SFN_MEDIA_PATH_MAX];
    size_t            size;
    sfn_media_seg_t  *seg;

    seg = out->seg;

    if (sfn_media_seg_name(out, seg->number, name, sizeof(name)) < 0) {
        return AVERROR(ENAMETOOLONG);
    }

    size = seg->len + strlen(name) + 64;

    if (size > seg->size) {
        size = size > 2 * seg->size ? size : 2 * seg->size;
        p = realloc(seg->lines, size);

        if (p == NULL) {
            return AVERROR(ENOMEM);
        }

        seg->lines = p;
        seg->size = size;
    }

    n = sfn_media_fmt(seg->lines + seg->len, seg->size - seg->len,
                      "#EXTINF:%.6f,\n%s\n", duration, name);
    if (n < 0) {
        return AVERROR_BUG;
    }

    seg->len += n;

    if ((int) (duration + 0.5) > seg->target) {
        seg->target = (int) (duration + 0.5);
    }

    return 0;
}


/* closes the current segment, which lasted until pts */

static int
sfn_media_seg_close_one(sfn_media_job_t *job, sfn_media_out_t *out,
    int64_t pts, int last)
{
    int               rc, n;
    char             *text, files[2][SFN_MEDIA_PATH_MAX];
    size_t            len;
    sfn_media_seg_t  *seg;
    const char       *names[2];

    seg = out->seg;

    if (seg->fmp4 && !seg->init) {
        /* delay_moov: the first flush writes the moov alone */

        rc = av_write_frame(out->mux, NULL);

        if (rc >= 0) {
            rc = sfn_media_seg_buffer(out, 0);
        }

        if (rc >= 0) {
            rc = avio_open_dyn_buf(&out->mux->pb);
        }

        if (rc < 0) {
            return rc;
        }

        seg->init = 1;
    }

    /* a NULL packet: mpegts flushes its PES, mp4 its fragment */

    rc = last ? av_write_trailer(out->mux) : av_write_frame(out->mux, NULL);

    if (rc >= 0) {
        rc = seg->fmp4 ? sfn_media_seg_buffer(out, seg->number + 1)
                       : avio_closep(&out->mux->pb);
    }

    if (rc < 0) {
        return rc;
    }

    seg->number++;

    rc = sfn_media_seg_line(out, (pts - seg->start)
                                 * av_q2d(seg->q[seg->cut].tb));
    if (rc < 0) {
        return rc;
    }

    if (seg->number == 1) {
        out->first_at = sfn_media_now() - job->begun;
    }

    if (last || job->preview == NULL) {
        return 0;
    }

    /* the files the playlist names for the first time: fMP4's init too */

    n = 0;

    if (seg->fmp4 && seg->number == 1) {
        rc = sfn_media_seg_name(out, 0, files[n], sizeof(files[n]));
        names[n++] = files[0];
    }

    if (rc >= 0) {
        rc = sfn_media_seg_name(out, seg->number, files[n], sizeof(files[n]));
        names[n] = files[n];
        n++;
    }

    text = rc >= 0 ? sfn_media_seg_playlist(out, 0, &len) : NULL;
    if (text == NULL) {
        return rc < 0 ? AVERROR(ENAMETOOLONG) : AVERROR(ENOMEM);
    }

    errno = 0;
    rc = sfn_media_preview_segment(job, out, names, n, text, len);
    free(text);

    if (rc != 0) {
        rc = AVERROR(errno ? errno : EIO);
        sfn_media_job_error(job, "the preview", rc);
        return rc;
    }

    return 0;
}


int
sfn_media_seg_open(sfn_media_job_t *job, sfn_media_out_t *out,
    AVDictionary **opts)
{
    char                buf[32];
    const char         *slash;
    sfn_media_seg_t    *seg;
    sfn_media_group_t  *g;

    g = &job->set.groups[out->def.group];

    seg = calloc(1, sizeof(sfn_media_seg_t));
    if (seg == NULL) {
        return AVERROR(ENOMEM);
    }

    out->seg = seg;
    seg->group = g;
    seg->fmp4 = out->def.type == SFN_MEDIA_HLS_FMP4;
    seg->cut = out->vst >= 0 ? out->vst : out->ast;
    seg->next = INT64_MAX;
    seg->target = (int) (g->seglen + 0.999);

    slash = strrchr(out->key, '/');

    if (sfn_media_fmt(seg->dir, sizeof(seg->dir), "%s/%.*s",
                      job->tmp[g->bucket],
                      slash ? (int) (slash + 1 - out->key) : 0, out->key)
        < 0)
    {
        return AVERROR(ENAMETOOLONG);
    }

    if (seg->fmp4) {
        av_dict_set(opts, "movflags", "+frag_custom+dash+delay_moov", 0);
        av_dict_set(opts, "fflags", "-autobsf", 0);

    } else {
        /* one PAT and PMT a segment, at its start, as hlsenc writes them */
        snprintf(buf, sizeof(buf), "%d", INT32_MAX / 2 - 1);
        av_dict_set(opts, "pat_period", buf, 0);
        av_dict_set(opts, "sdt_period", buf, 0);
    }

    return sfn_media_seg_begin(job, out);
}


/* a packet of the cut stream: a boundary reached on a key frame cuts */

static int
sfn_media_seg_mux(sfn_media_job_t *job, sfn_media_out_t *out, AVPacket *pkt)
{
    int               rc, si;
    int64_t           d;
    AVRational        tb, fr;
    sfn_media_seg_t  *seg;

    seg = out->seg;
    si = pkt->stream_index;
    tb = seg->q[si].tb;

    if (si == seg->cut && pkt->pts != AV_NOPTS_VALUE) {
        if (!seg->open) {
            seg->open = 1;
            seg->start = pkt->pts;
            seg->end = pkt->pts;
            seg->next = sfn_media_seg_next(seg->group, pkt->pts, tb);

        } else if ((pkt->flags & AV_PKT_FLAG_KEY) && pkt->pts >= seg->next) {
            rc = sfn_media_seg_close_one(job, out, pkt->pts, 0);

            if (rc == 0) {
                rc = sfn_media_seg_begin(job, out);
            }

            if (rc < 0) {
                return rc;
            }

            seg->start = pkt->pts;
            seg->next = sfn_media_seg_next(seg->group, pkt->pts, tb);
        }

        /* x264's packets may carry no duration: one frame then */

        d = pkt->duration;
        fr = out->mux->streams[si]->avg_frame_rate;

        if (d <= 0 && fr.num > 0 && fr.den > 0) {
            d = av_rescale_q(1, av_inv_q(fr), tb);
        }

        if (pkt->pts + d > seg->end) {
            seg->end = pkt->pts + d;
        }
    }

    av_packet_rescale_ts(pkt, tb, out->mux->streams[si]->time_base);

    return av_write_frame(out->mux, pkt);
}


static AVPacket *
sfn_media_seg_pop(sfn_media_pktq_t *q)
{
    AVPacket         *pkt;
    sfn_media_pkt_t  *e;

    e = q->head;
    q->head = e->next;

    if (q->head == NULL) {
        q->tail = NULL;
    }

    pkt = e->pkt;
    free(e);

    return pkt;
}


/* the packets of both streams in decoding order; flush: all of them */

static int
sfn_media_seg_drain(sfn_media_job_t *job, sfn_media_out_t *out, int flush)
{
    int                rc, i, n;
    AVPacket          *pkt;
    sfn_media_pktq_t  *q, *a, *b;

    n = out->vst >= 0 && out->ast >= 0 ? 2 : 1;
    a = &out->seg->q[0];
    b = &out->seg->q[1];

    for ( ;; ) {
        if (n == 1 || (a->head && b->head)) {
            q = n == 1 || av_compare_ts(a->head->pkt->dts, a->tb,
                                        b->head->pkt->dts, b->tb) <= 0
                ? a : b;

            if (q->head == NULL) {
                return 0;
            }

        } else {
            q = a->head ? a : b;

            if (q->head == NULL
                || (!flush
                    && (q->tail->pkt->dts - q->head->pkt->dts) * av_q2d(q->tb)
                       < SFN_MEDIA_SEG_DELTA))
            {
                return 0;
            }
        }

        pkt = sfn_media_seg_pop(q);
        i = (int) (q - out->seg->q);
        pkt->stream_index = i;

        rc = sfn_media_seg_mux(job, out, pkt);
        av_packet_free(&pkt);

        if (rc < 0) {
            return rc;
        }
    }
}


/* takes pkt (stream_index set, timestamps in tb, the encoder's) */

int
sfn_media_seg_write(sfn_media_job_t *job, sfn_media_out_t *out,
    AVPacket *pkt, AVRational tb)
{
    sfn_media_pkt_t   *e;
    sfn_media_pktq_t  *q;

    e = malloc(sizeof(sfn_media_pkt_t));
    if (e == NULL) {
        av_packet_free(&pkt);
        return AVERROR(ENOMEM);
    }

    if (pkt->dts == AV_NOPTS_VALUE) {
        pkt->dts = pkt->pts;
    }

    q = &out->seg->q[pkt->stream_index];
    q->tb = tb;

    e->pkt = pkt;
    e->next = NULL;

    if (q->tail) {
        q->tail->next = e;

    } else {
        q->head = e;
    }

    q->tail = e;

    return sfn_media_seg_drain(job, out, 0);
}


/* the last segment and the VOD playlist */

int
sfn_media_seg_close(sfn_media_job_t *job, sfn_media_out_t *out)
{
    int               rc;
    FILE             *fp;
    char             *text;
    char              path[SFN_MEDIA_PATH_MAX];
    size_t            len;
    sfn_media_seg_t  *seg;

    seg = out->seg;

    rc = sfn_media_seg_drain(job, out, 1);

    if (rc < 0) {
        return sfn_media_fail_av(job->call, out->key, "cannot be finished",
                                 rc);
    }

    if (!seg->open) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "\"%s\": no packet was encoded", out->key);
    }

    rc = sfn_media_seg_close_one(job, out, seg->end, 1);

    if (rc < 0) {
        return sfn_media_fail_av(job->call, out->key, "cannot be finished",
                                 rc);
    }

    text = sfn_media_seg_playlist(out, 1, &len);

    if (text == NULL) {
        return sfn_task_fail(job->call, "States.TaskFailed", "out of memory");
    }

    fp = NULL;

    if (sfn_media_fmt(path, sizeof(path), "%s%s.m3u8", seg->dir,
                      out->def.name) >= 0)
    {
        fp = fopen(path, "w");
    }

    if (fp != NULL) {
        rc = fwrite(text, 1, len, fp) != len;
        rc = fclose(fp) != 0 || rc;
    }

    free(text);

    if (fp == NULL || rc) {
        return sfn_task_fail(job->call, "States.TaskFailed",
                             "cannot write \"%s\": %s", path,
                             strerror(errno));
    }

    return SFN_TASK_OK;
}


void
sfn_media_seg_free(sfn_media_out_t *out)
{
    int               i;
    uint8_t          *data;
    AVPacket         *pkt;
    sfn_media_seg_t  *seg;

    seg = out->seg;

    if (out->mux && out->mux->pb) {
        if (seg && seg->fmp4) {
            avio_close_dyn_buf(out->mux->pb, &data);
            av_free(data);
            out->mux->pb = NULL;

        } else {
            avio_closep(&out->mux->pb);
        }
    }

    if (seg == NULL) {
        return;
    }

    for (i = 0; i < 2; i++) {
        while (seg->q[i].head) {
            pkt = sfn_media_seg_pop(&seg->q[i]);
            av_packet_free(&pkt);
        }
    }

    free(seg->lines);
    free(seg);
    out->seg = NULL;
}
