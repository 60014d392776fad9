
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:media:transcode - a MediaConvert job on the FFmpeg libraries, and
 * sfn:media:thumbnails, the frame capture of the same pipeline alone.
 *
 * The source is decoded once.  Each distinct video rendition is scaled and
 * encoded once, on its own thread, and each distinct audio encoding once;
 * their packets go to every container that wants them (MP4, HLS with TS or
 * fMP4 segments).  Key frames are forced on segment boundaries so that
 * HLS renditions align.  Everything is written to a temporary directory in
 * the bucket and renamed into place only when the whole job succeeded.
 *
 * This file holds the decode loop and the two tasks; the Settings are
 * parsed by sfn_media_settings.c, the encoders live in sfn_media_encode.c
 * and the muxers and results in sfn_media_output.c.
 */


#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>

#include "sfn_media_job.h"


/* the decode loop */


static void
sfn_media_progress(sfn_media_job_t *job, int force)
{
    double                 now, pct;
    const sfn_task_env_t  *env;

    env = job->call->env;

    if (env == NULL || env->progress == NULL) {
        return;
    }

    now = sfn_media_now();

    if (!force && now - job->reported < 0.5) {
        return;
    }

    job->reported = now;

    pct = job->in.duration > 0 ? 100.0 * job->last_t / job->in.duration : 0;
    pct = force ? 100 : pct > 99 ? 99 : pct < 0 ? 0 : pct;

    env->progress(env->data, pct,
                  now > job->started ? job->frames / (now - job->started)
                                     : 0);
}


static int
sfn_media_video_frame(sfn_media_job_t *job, AVFrame *frame)
{
    int        i, rc;
    double     t;
    AVStream  *st;

    st = job->in.fmt->streams[job->in.vindex];

    frame->pts = frame->best_effort_timestamp;

    /* a stream with no timestamps (raw H.264) runs at its frame rate */

    if (frame->pts == AV_NOPTS_VALUE) {
        frame->pts = av_rescale_q(job->frames,
                                  av_inv_q(av_d2q(job->in.fps > 0
                                                  ? job->in.fps : 25,
                                                  100000)),
                                  st->time_base)
                     + job->vstart;
    }

    frame->pts -= job->vstart;
    t = frame->pts * av_q2d(st->time_base);

    job->last_t = t;
    job->frames++;

    for (i = 0; i < job->nthumbs; i++) {
        rc = sfn_media_thumbs_frame(job, &job->thumbs[i], frame, t);
        if (rc < 0) {
            return rc;
        }
    }

    for (i = 0; i < job->nrends; i++) {
        rc = sfn_media_rend_push(&job->rends[i], frame);
        if (rc < 0) {
            return rc;
        }
    }

    return 0;
}


static int
sfn_media_decode(sfn_media_job_t *job, AVCodecContext *dec, AVPacket *pkt)
{
    int        i, rc;
    AVFrame   *frame;

    rc = avcodec_send_packet(dec, pkt);

    /* a damaged packet is skipped, as players do */

    if (rc < 0 && rc != AVERROR_EOF && rc != AVERROR(EAGAIN)) {
        return rc == AVERROR_INVALIDDATA ? 0 : rc;
    }

    frame = av_frame_alloc();
    if (frame == NULL) {
        return AVERROR(ENOMEM);
    }

    for ( ;; ) {
        rc = avcodec_receive_frame(dec, frame);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            rc = 0;
            break;
        }

        if (rc < 0) {
            break;
        }

        if (dec == job->in.vdec) {
            rc = sfn_media_video_frame(job, frame);

        } else {
            job->aframes++;

            for (i = 0; i < job->naencs; i++) {
                rc = sfn_media_aenc_frame(job, &job->aencs[i], frame);
                if (rc < 0) {
                    break;
                }
            }
        }

        av_frame_unref(frame);

        if (rc < 0) {
            break;
        }

        if (job->err[0]) {
            rc = AVERROR_EXTERNAL;
            break;
        }
    }

    av_frame_free(&frame);

    return rc;
}


static int
sfn_media_run(sfn_media_job_t *job)
{
    int        rc;
    AVPacket  *pkt;
    AVStream  *st;

    pkt = av_packet_alloc();
    if (pkt == NULL) {
        return AVERROR(ENOMEM);
    }

    job->vstart = 0;

    if (job->in.vindex >= 0) {
        st = job->in.fmt->streams[job->in.vindex];
        job->vstart = av_rescale_q(job->in.start, AV_TIME_BASE_Q,
                                   st->time_base);
    }

    for ( ;; ) {
        if (sfn_media_cancelled(job->call)) {
            rc = AVERROR_EXIT;
            break;
        }

        rc = av_read_frame(job->in.fmt, pkt);

        if (rc == AVERROR_EOF) {
            rc = 0;
            break;
        }

        if (rc < 0) {
            break;
        }

        rc = 0;

        if (pkt->stream_index == job->in.vindex
            && (job->nrends || job->nthumbs))
        {
            rc = sfn_media_decode(job, job->in.vdec, pkt);

        } else if (pkt->stream_index == job->in.aindex && job->naencs) {
            rc = sfn_media_decode(job, job->in.adec, pkt);
        }

        av_packet_unref(pkt);

        if (rc < 0) {
            break;
        }

        sfn_media_progress(job, 0);
    }

    av_packet_free(&pkt);

    if (rc < 0) {
        return rc;
    }

    /* drain the decoders, then the encoders */

    if (job->in.vdec && (job->nrends || job->nthumbs)) {
        rc = sfn_media_decode(job, job->in.vdec, NULL);
        if (rc < 0) {
            return rc;
        }
    }

    if (job->in.adec && job->naencs) {
        rc = sfn_media_decode(job, job->in.adec, NULL);
        if (rc < 0) {
            return rc;
        }
    }

    for (rc = 0; rc < job->naencs; rc++) {
        if (sfn_media_aenc_frame(job, &job->aencs[rc], NULL) < 0
            || avcodec_send_frame(job->aencs[rc].enc, NULL) < 0
            || sfn_media_drain(job, job->aencs[rc].enc, 0, rc, NULL) < 0)
        {
            return AVERROR_EXTERNAL;
        }
    }

    return 0;
}


static void
sfn_media_job_free(sfn_media_job_t *job)
{
    int  i;

    for (i = 0; i < job->nrends; i++) {
        sfn_media_rend_stop(&job->rends[i], 1);
        sfn_media_filter_free(&job->rends[i].filter);
        avcodec_free_context(&job->rends[i].enc);
    }

    for (i = 0; i < job->naencs; i++) {
        avcodec_free_context(&job->aencs[i].enc);
        swr_free(&job->aencs[i].swr);

        if (job->aencs[i].fifo) {
            av_audio_fifo_free(job->aencs[i].fifo);
        }

        av_frame_free(&job->aencs[i].frame);
    }

    for (i = 0; i < job->nouts; i++) {
        if (job->outs[i].mux) {
            sfn_media_seg_free(&job->outs[i]);
            avformat_free_context(job->outs[i].mux);
            job->outs[i].mux = NULL;
            pthread_mutex_destroy(&job->outs[i].mutex);
        }
    }

    for (i = 0; i < job->nthumbs; i++) {
        sfn_media_thumbs_free(&job->thumbs[i]);
    }

    for (i = 0; i < job->set.nbuckets; i++) {
        if (job->tmp[i][0]) {
            sfn_media_rmtree(job->tmp[i]);
            job->tmp[i][0] = '\0';
        }
    }

    sfn_media_input_close(&job->in);
    pthread_mutex_destroy(&job->err_mutex);
}


/* fits the parsed plan to the opened source and lays the job out */

static int
sfn_media_job_plan(sfn_media_job_t *job)
{
    int                    i, best;
    AVStream              *st;
    sfn_media_source_t     src;
    sfn_media_settings_t  *set;

    set = &job->set;

    memset(&src, 0, sizeof(sfn_media_source_t));
    src.duration = job->in.duration;
    src.fps = job->in.fps;

    if (job->in.vindex >= 0) {
        st = job->in.fmt->streams[job->in.vindex];
        src.width = st->codecpar->width;
        src.height = st->codecpar->height;

        if (job->in.rotation % 180) {
            src.width = st->codecpar->height;
            src.height = st->codecpar->width;
        }
    }

    if (sfn_media_settings_fit(job->call, set, &src) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    for (i = 0; i < set->nvspecs; i++) {
        job->rends[i].spec = set->vspecs[i];
    }

    for (i = 0; i < set->naspecs; i++) {
        job->aencs[i].spec = set->aspecs[i];
    }

    for (i = 0; i < set->noutputs; i++) {
        job->outs[i].def = set->outputs[i];
    }

    for (i = 0; i < set->ncaptures; i++) {
        job->thumbs[i].def = set->captures[i];
    }

    job->nrends = set->nvspecs;
    job->naencs = set->naspecs;
    job->nouts = set->noutputs;
    job->nthumbs = set->ncaptures;

    /* black frames are a property of the picture: counted once, small */

    best = -1;

    for (i = 0; i < job->nrends; i++) {
        if (best < 0
            || (int64_t) set->vspecs[i].width * set->vspecs[i].height
               < (int64_t) set->vspecs[best].width * set->vspecs[best].height)
        {
            best = i;
        }
    }

    if (best >= 0) {
        job->rends[best].analyse = 1;
    }

    return SFN_TASK_OK;
}


/* runs a job whose Settings are parsed; fills call->output on success */

static int
sfn_media_execute(sfn_media_job_t *job, const cJSON *settings,
    const char *job_id)
{
    int                i, j, n, rc;
    char               tmpl[SFN_MEDIA_PATH_MAX];
    sfn_task_call_t   *call;
    sfn_media_out_t   *out;

    call = job->call;

    if (sfn_media_input_open(call, &job->in, job->set.src_path,
                             job->set.src_name, 1)
        != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    if (sfn_media_job_plan(job) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    if ((job->nrends || job->nthumbs) && job->in.vindex < 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "\"%s\" has no video stream", job->set.src_name);
    }

    /*
     * A source without audio gives outputs without audio, and a ladder
     * without its audio-only renditions; audio alone it cannot give.
     */

    if (job->in.aindex < 0) {
        n = 0;

        for (i = 0; i < job->nouts; i++) {
            job->outs[i].def.aenc = -1;

            if (job->outs[i].def.rend >= 0) {
                job->outs[n++] = job->outs[i];
                continue;
            }

            for (j = 0; j < job->nouts; j++) {
                if (job->outs[j].def.group == job->outs[i].def.group
                    && job->outs[j].def.rend >= 0)
                {
                    break;
                }
            }

            if (j == job->nouts) {
                return sfn_task_fail(call, "States.TaskFailed",
                                     "\"%s\" has no audio stream",
                                     job->set.src_name);
            }
        }

        job->nouts = n;
        job->naencs = 0;
    }

    for (i = 0; i < job->set.nbuckets; i++) {
        snprintf(tmpl, sizeof(tmpl), "%s/.sfn-job-XXXXXX",
                 job->set.buckets[i].root);

        if (mkdtemp(tmpl) == NULL) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "mkdtemp \"%s\" failed: %s", tmpl,
                                 strerror(errno));
        }

        snprintf(job->tmp[i], sizeof(job->tmp[i]), "%s",
                 tmpl);
    }

    for (i = 0; i < job->nrends; i++) {
        if (sfn_media_rend_open(job, &job->rends[i]) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }
    }

    for (i = 0; i < job->naencs; i++) {
        if (sfn_media_aenc_open(job, &job->aencs[i]) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }
    }

    for (i = 0; i < job->nthumbs; i++) {
        if (sfn_media_thumbs_open(job, &job->thumbs[i]) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }
    }

    if (sfn_media_preview_open(job) != SFN_TASK_OK) {
        return SFN_TASK_FAILED;
    }

    for (i = 0; i < job->nouts; i++) {
        if (sfn_media_out_open(job, &job->outs[i]) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }
    }

    for (i = 0; i < job->nrends; i++) {
        if (sfn_media_rend_start(&job->rends[i]) != 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "pthread_create() failed");
        }
    }

    job->started = sfn_media_now();

    rc = sfn_media_run(job);

    for (i = 0; i < job->nrends; i++) {
        sfn_media_rend_stop(&job->rends[i], rc < 0);
    }

    if (rc == 0 && job->err[0]) {
        rc = AVERROR_EXTERNAL;
    }

    if (rc < 0) {
        if (sfn_media_cancelled(call) || rc == AVERROR_EXIT) {
            return sfn_task_fail(call, "States.Timeout",
                                 "job %s: cancelled", job_id);
        }

        if (job->err[0]) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "job %s: \"%s\": %s", job_id,
                                 job->set.src_name, job->err);
        }

        return sfn_media_fail_av(call, job->set.src_name, "transcoding failed",
                                 rc);
    }

    /* MediaConvert fails a job whose input gives nothing: so do we */

    if ((job->nrends || job->nthumbs) && job->frames == 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "job %s: \"%s\": no video frame could be "
                             "decoded", job_id, job->set.src_name);
    }

    if (job->naencs && job->aframes == 0) {
        return sfn_task_fail(call, "States.TaskFailed",
                             "job %s: \"%s\": no audio frame could be "
                             "decoded", job_id, job->set.src_name);
    }

    for (i = 0; i < job->nthumbs; i++) {
        if (job->thumbs[i].count == 0) {
            return sfn_task_fail(call, "States.TaskFailed",
                                 "job %s: \"%s\": no frame to capture at or "
                                 "after %g s", job_id, job->set.src_name,
                                 job->thumbs[i].def.offset);
        }

        if (sfn_media_thumbs_finish(job, &job->thumbs[i]) != SFN_TASK_OK) {
            return SFN_TASK_FAILED;
        }
    }

    for (i = 0; i < job->nouts; i++) {
        out = &job->outs[i];

        if (out->seg) {
            if (sfn_media_seg_close(job, out) != SFN_TASK_OK) {
                return SFN_TASK_FAILED;
            }

            continue;
        }

        rc = av_write_trailer(out->mux);

        if (rc >= 0) {
            out->duration = out->end;
            rc = avio_closep(&out->mux->pb);
        }

        if (rc < 0) {
            return sfn_media_fail_av(call, out->key, "cannot be finished",
                                     rc);
        }
    }

    for (i = 0; i < job->set.ngroups; i++) {
        if (job->set.groups[i].type != SFN_MEDIA_MP4
            && !job->set.groups[i].thumbs
            && sfn_media_master(job, &job->set.groups[i], NULL) != SFN_TASK_OK)
        {
            return SFN_TASK_FAILED;
        }
    }

    if (sfn_media_cancelled(call)) {
        return sfn_task_fail(call, "States.Timeout", "job %s: cancelled",
                             job_id);
    }

    for (i = 0; i < job->set.nbuckets; i++) {
        if (sfn_media_commit_dir(job, job->tmp[i],
                                 job->set.buckets[i].root, "")
            != SFN_TASK_OK)
        {
            return SFN_TASK_FAILED;
        }
    }

    sfn_media_progress(job, 1);

    call->output = sfn_media_result(job, settings, job_id,
                                    sfn_media_now() - job->started);

    return SFN_TASK_OK;
}


static void
sfn_media_job_id(sfn_task_call_t *call, char *buf, size_t size)
{
    unsigned        seed;
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    seed = (unsigned) (tv.tv_usec ^ (uintptr_t) call ^ tv.tv_sec);

    /* MediaConvert's shape: milliseconds, a dash, six characters */

    snprintf(buf, size, "%lld-%06x",
             (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000,
             rand_r(&seed) & 0xffffff);
}


int
sfn_media_transcode(sfn_task_call_t *call)
{
    int               rc;
    char              job_id[64];
    cJSON            *own;
    const cJSON      *settings;
    sfn_media_job_t  *job;

    sfn_media_init();

    settings = cJSON_GetObjectItemCaseSensitive(call->input, "Settings");
    own = NULL;

    if (settings == NULL
        && cJSON_GetObjectItemCaseSensitive(call->input, "OutputGroups"))
    {
        settings = call->input;
    }

    if (settings == NULL) {
        own = sfn_media_settings_from_spec(call, call->input);
        if (own == NULL) {
            return SFN_TASK_FAILED;
        }

        settings = own;
    }

    job = calloc(1, sizeof(sfn_media_job_t));
    if (job == NULL) {
        cJSON_Delete(own);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    job->call = call;
    job->begun = sfn_media_now();
    job->in.vindex = -1;
    job->in.aindex = -1;
    pthread_mutex_init(&job->err_mutex, NULL);

    sfn_media_job_id(call, job_id, sizeof(job_id));

    rc = sfn_media_settings_parse(call, settings, &job->set);

    if (rc == SFN_TASK_OK) {
        rc = sfn_media_execute(job, settings, job_id);
    }

    sfn_media_job_free(job);
    sfn_media_preview_close(job, rc == SFN_TASK_OK);
    free(job);
    cJSON_Delete(own);

    return rc;
}


/*
 * sfn:media:thumbnails
 *   {"bucket", "key", "outputBucket"?, "prefix"?, "count": 5,
 *    "interval"?: seconds (default: spread over the duration),
 *    "width": 640, "height": 360, "quality": 80,
 *    "sprite"?: {"width": 160, "height"?, "columns": 10}}
 * -> {"thumbnails": [{"bucket", "key", "time", "width", "height", "size"}],
 *     "count", "width", "height", "sprite"?, "vtt"?, "poster"?}
 */

int
sfn_media_thumbnails(sfn_task_call_t *call)
{
    int                 rc, n;
    char                dest[2048], job_id[64], base[256];
    cJSON              *out, *settings, *og, *o, *vd, *cs, *fc, *in, *tp;
    const cJSON        *sprite;
    double              interval, count, offset;
    const char         *bucket, *key, *obucket, *prefix, *nm, *p;
    sfn_media_job_t    *job;
    sfn_media_input_t   probe;
    char                path[SFN_MEDIA_PATH_MAX];

    sfn_media_init();

    bucket = sfn_task_string(call->input, "bucket");
    key = sfn_task_string(call->input, "key");

    if (sfn_task_bucket_path(call, bucket, key, path, sizeof(path)) == NULL) {
        return SFN_TASK_FAILED;
    }

    if (sfn_task_opt_string(call, call->input, "outputBucket", &obucket)
        != SFN_TASK_OK
        || sfn_task_opt_string(call, call->input, "prefix", &prefix)
           != SFN_TASK_OK
        || sfn_task_opt_string(call, call->input, "nameModifier", &nm)
           != SFN_TASK_OK)
    {
        return SFN_TASK_FAILED;
    }

    count = sfn_media_number(call->input, "count", 5);
    interval = sfn_media_number(call->input, "interval", 0);
    offset = sfn_media_number(call->input, "offset", -1);

    if (!(count >= 1 && count <= 1000) || !(interval >= 0 && interval < 1e9)
        || !(offset < 1e9))
    {
        return sfn_task_fail(call, "States.TaskFailed",
                             "invalid \"count\" or \"interval\"");
    }

    /* no interval: spread evenly, in the middle of equal parts */

    if (interval == 0) {
        p = strrchr(key, '/');

        if (sfn_media_input_open(call, &probe, path, p ? p + 1 : key, 0)
            != SFN_TASK_OK)
        {
            sfn_media_input_close(&probe);
            return SFN_TASK_FAILED;
        }

        interval = probe.duration > 0 ? probe.duration / count : 1;
        sfn_media_input_close(&probe);

        if (offset < 0) {
            offset = interval / 2;
        }
    }

    if (offset < 0) {
        offset = 0;
    }

    p = strrchr(key, '/');
    snprintf(base, sizeof(base), "%s", p ? p + 1 : key);
    n = (int) strcspn(base, ".");
    if (n > 0) {
        base[n] = '\0';
    }

    if (prefix == NULL) {
        snprintf(dest, sizeof(dest), "s3://%s/thumbnails/%s/",
                 obucket ? obucket : bucket, base);

    } else {
        snprintf(dest, sizeof(dest), "s3://%s/%s", obucket ? obucket : bucket,
                 prefix);
    }

    settings = cJSON_CreateObject();
    in = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(settings, "Inputs"), in);
    snprintf(path, sizeof(path), "s3://%s/%s", bucket, key);
    cJSON_AddStringToObject(in, "FileInput", path);

    og = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(settings, "OutputGroups"),
                         og);
    cJSON_AddStringToObject(og, "Name", "Thumbnails");
    cs = cJSON_AddObjectToObject(og, "OutputGroupSettings");
    cJSON_AddStringToObject(cs, "Type", "FILE_GROUP_SETTINGS");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(cs, "FileGroupSettings"),
                            "Destination", dest);

    o = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(og, "Outputs"), o);
    cJSON_AddStringToObject(o, "NameModifier", nm ? nm : "_thumb_%04d");
    vd = cJSON_AddObjectToObject(o, "VideoDescription");
    cJSON_AddNumberToObject(vd, "Width",
                            sfn_media_number(call->input, "width", 640));
    cJSON_AddNumberToObject(vd, "Height",
                            sfn_media_number(call->input, "height", 360));
    cs = cJSON_AddObjectToObject(vd, "CodecSettings");
    cJSON_AddStringToObject(cs, "Codec", "FRAME_CAPTURE");
    fc = cJSON_AddObjectToObject(cs, "FrameCaptureSettings");
    cJSON_AddNumberToObject(fc, "FramerateNumerator", 1000000);
    cJSON_AddNumberToObject(fc, "FramerateDenominator", interval * 1000000);
    cJSON_AddNumberToObject(fc, "MaxCaptures", count);
    cJSON_AddNumberToObject(fc, "Quality",
                            sfn_media_number(call->input, "quality", 80));
    cJSON_AddNumberToObject(fc, "Offset", offset);

    sprite = cJSON_GetObjectItemCaseSensitive(call->input, "sprite");

    if (cJSON_IsObject(sprite)) {
        tp = cJSON_AddObjectToObject(fc, "ImageBasedTrickPlaySettings");
        cJSON_AddNumberToObject(tp, "ThumbnailWidth",
                                sfn_media_number(sprite, "width", 160));
        cJSON_AddNumberToObject(tp, "ThumbnailHeight",
                                sfn_media_number(sprite, "height", 0));
        cJSON_AddNumberToObject(tp, "TileWidth",
                                sfn_media_number(sprite, "columns", 10));
    }

    job = calloc(1, sizeof(sfn_media_job_t));
    if (job == NULL) {
        cJSON_Delete(settings);
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    job->call = call;
    job->in.vindex = -1;
    job->in.aindex = -1;
    pthread_mutex_init(&job->err_mutex, NULL);
    sfn_media_job_id(call, job_id, sizeof(job_id));

    rc = sfn_media_settings_parse(call, settings, &job->set);

    if (rc == SFN_TASK_OK) {
        rc = sfn_media_execute(job, settings, job_id);
    }

    if (rc == SFN_TASK_OK) {
        out = cJSON_CreateObject();
        cJSON_AddItemToObject(out, "thumbnails",
                              cJSON_Duplicate(job->thumbs[0].files, 1));
        cJSON_AddNumberToObject(out, "count", job->thumbs[0].count);
        cJSON_AddNumberToObject(out, "width", job->thumbs[0].def.width);
        cJSON_AddNumberToObject(out, "height", job->thumbs[0].def.height);
        cJSON_AddNumberToObject(out, "interval", interval);
        sfn_media_thumbs_result(&job->thumbs[0], out);
        cJSON_Delete(call->output);
        call->output = out;
    }

    sfn_media_job_free(job);
    free(job);
    cJSON_Delete(settings);

    return rc;
}
