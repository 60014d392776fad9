
/*
 * Copyright (C) ngx_sfn authors
 *
 * sfn:media:probe - ffprobe -show_format -show_streams as a task.
 */


#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>

#include "sfn_media.h"


static void
sfn_media_probe_rational(cJSON *obj, const char *name, AVRational r)
{
    char  buf[64];

    snprintf(buf, sizeof(buf), "%d/%d", r.num, r.den);
    cJSON_AddStringToObject(obj, name, buf);
}


static void
sfn_media_probe_tags(cJSON *obj, AVDictionary *dict)
{
    cJSON                    *tags;
    const AVDictionaryEntry  *e;

    if (av_dict_count(dict) == 0) {
        return;
    }

    tags = cJSON_AddObjectToObject(obj, "tags");
    e = NULL;

    while ((e = av_dict_get(dict, "", e, AV_DICT_IGNORE_SUFFIX)) != NULL) {
        cJSON_AddStringToObject(tags, e->key, e->value);
    }
}


static double
sfn_media_probe_round(double v, double scale)
{
    return floor(v * scale + 0.5) / scale;
}


/* as ffprobe prints it: counterclockwise degrees of the display matrix */

static int
sfn_media_probe_rotation(AVStream *st)
{
    double    theta;
    uint8_t  *m;

    m = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (m == NULL) {
        return 0;
    }

    theta = av_display_rotation_get((int32_t *) m);

    return theta == theta ? (int) lrint(theta) : 0;
}


static cJSON *
sfn_media_probe_stream(AVFormatContext *fmt, unsigned i)
{
    char                       buf[128];
    cJSON                     *s, *d;
    double                     dur;
    AVStream                  *st;
    AVRational                 r;
    const char                *name;
    AVCodecParameters         *par;
    const AVCodecDescriptor   *desc;

    st = fmt->streams[i];
    par = st->codecpar;

    s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "index", i);

    desc = avcodec_descriptor_get(par->codec_id);
    cJSON_AddStringToObject(s, "codec_name", desc ? desc->name : "unknown");

    if (desc && desc->long_name) {
        cJSON_AddStringToObject(s, "codec_long_name", desc->long_name);
    }

    name = avcodec_profile_name(par->codec_id, par->profile);
    if (name) {
        cJSON_AddStringToObject(s, "profile", name);
    }

    name = av_get_media_type_string(par->codec_type);
    cJSON_AddStringToObject(s, "codec_type", name ? name : "unknown");

    av_fourcc_make_string(buf, par->codec_tag);
    cJSON_AddStringToObject(s, "codec_tag_string", buf);

    switch (par->codec_type) {

    case AVMEDIA_TYPE_VIDEO:
        cJSON_AddNumberToObject(s, "width", par->width);
        cJSON_AddNumberToObject(s, "height", par->height);

        if (par->sample_aspect_ratio.num) {
            sfn_media_probe_rational(s, "sample_aspect_ratio",
                                     par->sample_aspect_ratio);
        }

        name = av_get_pix_fmt_name(par->format);
        if (name) {
            cJSON_AddStringToObject(s, "pix_fmt", name);
            cJSON_AddNumberToObject(s, "bits_per_raw_sample",
                av_pix_fmt_desc_get(par->format)->comp[0].depth);
        }

        if (par->level > 0) {
            cJSON_AddNumberToObject(s, "level", par->level);
        }

        cJSON_AddStringToObject(s, "color_range",
                                av_color_range_name(par->color_range));
        cJSON_AddStringToObject(s, "color_space",
                                av_color_space_name(par->color_space));
        cJSON_AddStringToObject(s, "color_transfer",
                                av_color_transfer_name(par->color_trc));
        cJSON_AddStringToObject(s, "color_primaries",
                                av_color_primaries_name(par->color_primaries));

        name = par->field_order == AV_FIELD_PROGRESSIVE ? "progressive"
               : par->field_order == AV_FIELD_UNKNOWN ? "unknown"
               : "interlaced";
        cJSON_AddStringToObject(s, "field_order", name);

        sfn_media_probe_rational(s, "r_frame_rate", st->r_frame_rate);
        sfn_media_probe_rational(s, "avg_frame_rate", st->avg_frame_rate);

        r = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
        cJSON_AddNumberToObject(s, "fps", r.num && r.den
                                ? sfn_media_probe_round(av_q2d(r), 1000) : 0);
        cJSON_AddNumberToObject(s, "rotation", sfn_media_probe_rotation(st));
        break;

    case AVMEDIA_TYPE_AUDIO:
        name = av_get_sample_fmt_name(par->format);
        if (name) {
            cJSON_AddStringToObject(s, "sample_fmt", name);
        }

        cJSON_AddNumberToObject(s, "sample_rate", par->sample_rate);
        cJSON_AddNumberToObject(s, "channels", par->ch_layout.nb_channels);

        if (par->ch_layout.order != AV_CHANNEL_ORDER_UNSPEC
            && av_channel_layout_describe(&par->ch_layout, buf, sizeof(buf))
               > 0)
        {
            cJSON_AddStringToObject(s, "channel_layout", buf);
        }

        cJSON_AddNumberToObject(s, "bits_per_sample",
                                av_get_bits_per_sample(par->codec_id));
        break;

    default:
        break;
    }

    sfn_media_probe_rational(s, "time_base", st->time_base);

    if (st->start_time != AV_NOPTS_VALUE) {
        cJSON_AddNumberToObject(s, "start_time",
            sfn_media_probe_round(st->start_time * av_q2d(st->time_base),
                                  1e6));
    }

    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) {
        cJSON_AddNumberToObject(s, "duration_ts", (double) st->duration);
        dur = st->duration * av_q2d(st->time_base);
        cJSON_AddNumberToObject(s, "duration",
                                sfn_media_probe_round(dur, 1e6));
    }

    if (par->bit_rate > 0) {
        cJSON_AddNumberToObject(s, "bit_rate", (double) par->bit_rate);
    }

    if (st->nb_frames > 0) {
        cJSON_AddNumberToObject(s, "nb_frames", (double) st->nb_frames);
    }

    d = cJSON_AddObjectToObject(s, "disposition");
    cJSON_AddNumberToObject(d, "default",
                            !!(st->disposition & AV_DISPOSITION_DEFAULT));
    cJSON_AddNumberToObject(d, "attached_pic",
                            !!(st->disposition & AV_DISPOSITION_ATTACHED_PIC));

    sfn_media_probe_tags(s, st->metadata);

    return s;
}


int
sfn_media_probe(sfn_task_call_t *call)
{
    int                 vw, vh, rot;
    char                path[SFN_MEDIA_PATH_MAX];
    cJSON              *out, *fmt, *streams, *sum, *item, *attrs;
    double              dur, fps;
    unsigned            i;
    long long           size;
    const char         *bucket, *key, *name;
    AVStream           *st;
    sfn_media_input_t   in;

    bucket = sfn_task_string(call->input, "bucket");
    key = sfn_task_string(call->input, "key");

    if (sfn_task_bucket_path(call, bucket, key, path, sizeof(path)) == NULL) {
        return SFN_TASK_FAILED;
    }

    name = strrchr(key, '/') ? strrchr(key, '/') + 1 : key;

    if (sfn_media_input_open(call, &in, path, name, 0) != SFN_TASK_OK) {
        sfn_media_input_close(&in);
        return SFN_TASK_FAILED;
    }

    out = cJSON_CreateObject();

    item = cJSON_GetObjectItemCaseSensitive(call->input, "jobId");
    if (item) {
        cJSON_AddItemToObject(out, "jobId", cJSON_Duplicate(item, 1));
    }

    size = sfn_media_file_size(path);
    dur = in.duration;

    fmt = cJSON_AddObjectToObject(out, "format");
    cJSON_AddStringToObject(fmt, "filename", key);
    cJSON_AddNumberToObject(fmt, "nb_streams", in.fmt->nb_streams);
    cJSON_AddStringToObject(fmt, "format_name", in.fmt->iformat->name);

    if (in.fmt->iformat->long_name) {
        cJSON_AddStringToObject(fmt, "format_long_name",
                                in.fmt->iformat->long_name);
    }

    cJSON_AddNumberToObject(fmt, "start_time",
                            sfn_media_probe_round(in.start / 1e6, 1e6));
    cJSON_AddNumberToObject(fmt, "duration", sfn_media_probe_round(dur, 1e6));
    cJSON_AddNumberToObject(fmt, "size", (double) size);
    cJSON_AddNumberToObject(fmt, "bit_rate", (double) in.fmt->bit_rate);
    cJSON_AddNumberToObject(fmt, "probe_score", in.fmt->probe_score);
    sfn_media_probe_tags(fmt, in.fmt->metadata);

    streams = cJSON_AddArrayToObject(out, "streams");

    for (i = 0; i < in.fmt->nb_streams; i++) {
        cJSON_AddItemToArray(streams, sfn_media_probe_stream(in.fmt, i));
    }

    /* the summary the workflow's later states compute with */

    sum = cJSON_AddObjectToObject(out, "summary");

    cJSON_AddStringToObject(sum, "bucket", bucket);
    cJSON_AddStringToObject(sum, "key", key);
    cJSON_AddNumberToObject(sum, "duration", sfn_media_probe_round(dur, 1e3));

    vw = 0;
    vh = 0;
    rot = 0;
    fps = 0;

    if (in.vindex >= 0) {
        st = in.fmt->streams[in.vindex];
        vw = st->codecpar->width;
        vh = st->codecpar->height;
        rot = sfn_media_probe_rotation(st);
        fps = sfn_media_probe_round(in.fps, 1000);
    }

    cJSON_AddNumberToObject(sum, "width", vw);
    cJSON_AddNumberToObject(sum, "height", vh);

    /* the picture as displayed, rotation applied */

    cJSON_AddNumberToObject(sum, "displayWidth", rot % 180 ? vh : vw);
    cJSON_AddNumberToObject(sum, "displayHeight", rot % 180 ? vw : vh);
    cJSON_AddNumberToObject(sum, "rotation", rot);
    cJSON_AddNumberToObject(sum, "fps", fps);
    cJSON_AddNumberToObject(sum, "bitrate", (double) in.fmt->bit_rate);
    cJSON_AddNumberToObject(sum, "size", (double) size);
    cJSON_AddNumberToObject(sum, "file_size", (double) size);
    cJSON_AddStringToObject(sum, "format", in.fmt->iformat->name);

    if (in.vindex >= 0) {
        st = in.fmt->streams[in.vindex];
        name = avcodec_get_name(st->codecpar->codec_id);
        cJSON_AddStringToObject(sum, "videoCodec", name);
        cJSON_AddStringToObject(sum, "codec", name);
        name = av_get_pix_fmt_name(st->codecpar->format);
        cJSON_AddStringToObject(sum, "pixFmt", name ? name : "unknown");
        cJSON_AddNumberToObject(sum, "bitDepth", name
            ? av_pix_fmt_desc_get(st->codecpar->format)->comp[0].depth : 8);

    } else {
        cJSON_AddNullToObject(sum, "videoCodec");
        cJSON_AddNullToObject(sum, "codec");
    }

    if (in.aindex >= 0) {
        st = in.fmt->streams[in.aindex];
        name = avcodec_get_name(st->codecpar->codec_id);
        cJSON_AddStringToObject(sum, "audioCodec", name);
        cJSON_AddStringToObject(sum, "audio_codec", name);
        cJSON_AddNumberToObject(sum, "sampleRate",
                                st->codecpar->sample_rate);
        cJSON_AddNumberToObject(sum, "channels",
                                st->codecpar->ch_layout.nb_channels);

    } else {
        cJSON_AddNullToObject(sum, "audioCodec");
        cJSON_AddNullToObject(sum, "audio_codec");
    }

    cJSON_AddBoolToObject(sum, "hasVideo", in.vindex >= 0);
    cJSON_AddBoolToObject(sum, "hasAudio", in.aindex >= 0);

    /* the seed's metadata Lambda returns {"metadata": ...} */

    cJSON_AddItemToObject(out, "metadata", cJSON_Duplicate(sum, 1));

    sfn_media_input_close(&in);

    call->output = out;

    /* and, as the seed's Lambda does, into the job's row */

    attrs = cJSON_CreateObject();
    if (attrs == NULL) {
        return sfn_task_fail(call, "States.TaskFailed", "out of memory");
    }

    cJSON_AddItemToObject(attrs, "VideoMetadata", cJSON_Duplicate(sum, 1));

    return sfn_media_job_record(call, attrs, "MetadataExtractedAt");
}
