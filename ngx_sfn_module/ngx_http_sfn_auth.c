
/*
 * Copyright (C) ngx_sfn authors
 *
 * Credentials where nginx has none: "sfn_api_key" for the REST, upload
 * and start locations (X-Api-Key or Authorization: Bearer), and AWS
 * Signature Version 4 for the AWS JSON API ("sfn_aws_credentials").
 * Both are checked in the content handler, after the access phase, so
 * allow/deny and auth_request run first and compose with them.
 */


#include "ngx_http_sfn_module.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>


#define NGX_HTTP_SFN_SIGV4_SKEW  (15 * 60)
#define NGX_HTTP_SFN_SIGV4_SCOPE  128


/* the signing key changes once a day: each worker keeps the last one */

static ngx_http_sfn_aws_key_t  *ngx_http_sfn_sigv4_key;
static size_t                   ngx_http_sfn_sigv4_scope_len;
static u_char                   ngx_http_sfn_sigv4_scope[
                                    NGX_HTTP_SFN_SIGV4_SCOPE];
static u_char                   ngx_http_sfn_sigv4_ksig[EVP_MAX_MD_SIZE];


char *
ngx_http_sfn_api_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_loc_conf_t *slcf = conf;

    ngx_str_t  *value, *key;

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "has an empty key";
    }

    if (slcf->api_keys == NULL) {
        slcf->api_keys = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (slcf->api_keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    key = ngx_array_push(slcf->api_keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    *key = value[1];

    return NGX_CONF_OK;
}


char *
ngx_http_sfn_aws_credentials(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_sfn_main_conf_t *smcf = conf;

    ngx_str_t               *value;
    ngx_uint_t               i;
    ngx_http_sfn_aws_key_t  *k;

    value = cf->args->elts;

    if (value[1].len == 0 || value[2].len == 0) {
        return "has an empty access key id or secret";
    }

    if (smcf->aws_keys == NULL) {
        smcf->aws_keys = ngx_array_create(cf->pool, 2,
                                          sizeof(ngx_http_sfn_aws_key_t));
        if (smcf->aws_keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    k = smcf->aws_keys->elts;

    for (i = 0; i < smcf->aws_keys->nelts; i++) {
        if (k[i].id.len == value[1].len
            && ngx_strncmp(k[i].id.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate access key id \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    k = ngx_array_push(smcf->aws_keys);
    if (k == NULL) {
        return NGX_CONF_ERROR;
    }

    k->id = value[1];
    k->secret = value[2];

    return NGX_CONF_OK;
}


/*
 * Puts the key check in front of the content handlers of sfn_upload,
 * sfn_start and sfn_api when a key is configured at this level or above.
 */

char *
ngx_http_sfn_auth_merge(ngx_conf_t *cf, ngx_http_sfn_loc_conf_t *prev,
    ngx_http_sfn_loc_conf_t *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (conf->api_keys == NULL) {
        conf->api_keys = prev->api_keys;
    }

    if (conf->api_keys == NULL) {
        return NGX_CONF_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_sfn_upload_handler
        || clcf->handler == ngx_http_sfn_start_handler
        || clcf->handler == ngx_http_sfn_api_handler)
    {
        conf->content = clcf->handler;
        clcf->handler = ngx_http_sfn_auth_handler;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_sfn_auth_equal(ngx_str_t *a, u_char *b, size_t len)
{
    if (a->len != len) {
        return 0;
    }

    return CRYPTO_memcmp(a->data, b, len) == 0;
}


/* NGX_OK when the request carries one of keys, else NGX_DECLINED */

ngx_int_t
ngx_http_sfn_auth_key(ngx_http_request_t *r, ngx_array_t *keys)
{
    u_char           *p;
    size_t            len;
    ngx_str_t        *k;
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    p = NULL;
    len = 0;

    h = ngx_http_sfn_header_in(r, "X-Api-Key", sizeof("X-Api-Key") - 1,
                               NULL);

    if (h) {
        p = h->value.data;
        len = h->value.len;

    } else if (r->headers_in.authorization) {
        h = r->headers_in.authorization;

        if (h->value.len > sizeof("Bearer ") - 1
            && ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                               sizeof("Bearer ") - 1) == 0)
        {
            p = h->value.data + sizeof("Bearer ") - 1;
            len = h->value.len - (sizeof("Bearer ") - 1);

            while (len && *p == ' ') {
                p++;
                len--;
            }
        }
    }

    if (p == NULL) {
        return NGX_DECLINED;
    }

    k = keys->elts;

    for (i = 0; i < keys->nelts; i++) {
        if (ngx_http_sfn_auth_equal(&k[i], p, len)) {
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_sfn_auth_handler(ngx_http_request_t *r)
{
    ngx_http_sfn_loc_conf_t  *slcf;

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_sfn_module);

    if (slcf->content == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (slcf->api_keys == NULL
        || ngx_http_sfn_auth_key(r, slcf->api_keys) == NGX_OK)
    {
        return slcf->content(r);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "sfn: request without a valid API key");

    if (ngx_http_sfn_header(r, "WWW-Authenticate", "Bearer realm=\"sfn\"")
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_sfn_send_error(r, NGX_HTTP_UNAUTHORIZED, "Unauthorized",
                                   "a valid API key is required "
                                   "(X-Api-Key or Authorization: Bearer)");
}


/* SigV4 */

static void
ngx_http_sfn_sigv4_sha256(u_char *data, size_t len, u_char *hex)
{
    unsigned int  n;
    u_char        md[EVP_MAX_MD_SIZE];

    (void) EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);

    ngx_hex_dump(hex, md, SHA256_DIGEST_LENGTH);
}


static void
ngx_http_sfn_sigv4_hmac(u_char *key, size_t klen, u_char *data, size_t len,
    u_char *out)
{
    unsigned int  n;

    (void) HMAC(EVP_sha256(), key, (int) klen, data, len, out, &n);
}


/* AWS's URI encoding: unreserved characters stay, '/' stays in paths */

static u_char *
ngx_http_sfn_sigv4_encode(u_char *p, u_char *src, size_t len)
{
    u_char  c, *last;

    static u_char  hex[] = "0123456789ABCDEF";

    for (last = src + len; src < last; src++) {
        c = *src;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
            || c == '~' || c == '/')
        {
            *p++ = c;
            continue;
        }

        *p++ = '%';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 0xf];
    }

    return p;
}


static int ngx_libc_cdecl
ngx_http_sfn_sigv4_cmp(const void *one, const void *two)
{
    const ngx_str_t  *a = one, *b = two;

    return ngx_memn2cmp(a->data, b->data, a->len, b->len);
}


/* seconds since the epoch of "YYYYMMDDTHHMMSSZ", or -1 */

static time_t
ngx_http_sfn_sigv4_time(ngx_str_t *s)
{
    u_char      *p;
    ngx_int_t    y, mo, d, h, mi, sec, days;
    ngx_uint_t   i;

    if (s->len != 16 || s->data[8] != 'T' || s->data[15] != 'Z') {
        return -1;
    }

    p = s->data;

    for (i = 0; i < 15; i++) {
        if (i != 8 && (p[i] < '0' || p[i] > '9')) {
            return -1;
        }
    }

    y = ngx_atoi(p, 4);
    mo = ngx_atoi(p + 4, 2);
    d = ngx_atoi(p + 6, 2);
    h = ngx_atoi(p + 9, 2);
    mi = ngx_atoi(p + 11, 2);
    sec = ngx_atoi(p + 13, 2);

    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59
        || sec > 60)
    {
        return -1;
    }

    /* days from civil as in ngx_http_parse_time(), months from 0 there */

    mo -= 2;

    if (mo <= 0) {
        mo += 12;
        y -= 1;
    }

    days = 365 * y + y / 4 - y / 100 + y / 400 + 367 * mo / 12 - 30 + d - 1
           - 719527 + 31 + 28;

    return (time_t) days * 86400 + h * 3600 + mi * 60 + sec;
}


static ngx_int_t
ngx_http_sfn_sigv4_param(ngx_str_t *auth, const char *name, ngx_str_t *v)
{
    u_char  *p, *last;
    size_t   len;

    len = ngx_strlen(name);
    last = auth->data + auth->len;

    for (p = auth->data; p + len <= last; p++) {
        if (ngx_strncmp(p, name, len) != 0
            || (p != auth->data && p[-1] != ' ' && p[-1] != ','))
        {
            continue;
        }

        v->data = p + len;

        for (p = v->data; p < last && *p != ',' && *p != ' '; p++) {
            /* void */
        }

        v->len = p - v->data;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * A SigV4 check in steps, each a function of the request and the state
 * below; a step that declines sets the AWS error of the reply.
 */

typedef struct {
    ngx_array_t                 *keys;      /* ngx_http_sfn_aws_key_t */
    ngx_str_t                   *body;

    /* Authorization: AWS4-HMAC-SHA256 Credential=, SignedHeaders=, ... */
    ngx_str_t                    cred;
    ngx_str_t                    signed_hdrs;
    ngx_str_t                    sig;

    /* Credential=AKID/DATE/REGION/SERVICE/aws4_request */
    ngx_str_t                    akid;
    ngx_str_t                    date;
    ngx_str_t                    region;
    ngx_str_t                    service;
    ngx_str_t                    scope;     /* all of it after "AKID/" */

    ngx_http_sfn_aws_key_t      *key;
    ngx_str_t                    amzdate;   /* X-Amz-Date */
    ngx_str_t                    sts;       /* the string to sign */

    const char                  *type;
    const char                  *message;

    u_char                       payload[SHA256_DIGEST_LENGTH * 2];
    u_char                       hash[SHA256_DIGEST_LENGTH * 2];
} ngx_http_sfn_sigv4_t;


typedef ngx_int_t (*ngx_http_sfn_sigv4_step_pt)(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv);


static ngx_int_t
ngx_http_sfn_sigv4_decline(ngx_http_sfn_sigv4_t *sv, const char *type,
    const char *message)
{
    sv->type = type;
    sv->message = message;

    return NGX_DECLINED;
}


/* the Authorization header: its algorithm and its three parameters */

static ngx_int_t
ngx_http_sfn_sigv4_authorization(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv)
{
    ngx_str_t  auth;

    if (r->headers_in.authorization == NULL) {
        return ngx_http_sfn_sigv4_decline(sv,
                   "MissingAuthenticationTokenException",
                   "Missing Authentication Token");
    }

    auth = r->headers_in.authorization->value;

    if (auth.len < sizeof("AWS4-HMAC-SHA256 ") - 1
        || ngx_strncmp(auth.data, "AWS4-HMAC-SHA256 ",
                       sizeof("AWS4-HMAC-SHA256 ") - 1) != 0)
    {
        return ngx_http_sfn_sigv4_decline(sv, "IncompleteSignatureException",
                   "Authorization header requires the AWS4-HMAC-SHA256 "
                   "algorithm");
    }

    if (ngx_http_sfn_sigv4_param(&auth, "Credential=", &sv->cred) != NGX_OK
        || ngx_http_sfn_sigv4_param(&auth, "SignedHeaders=",
                                    &sv->signed_hdrs)
           != NGX_OK
        || ngx_http_sfn_sigv4_param(&auth, "Signature=", &sv->sig) != NGX_OK)
    {
        return ngx_http_sfn_sigv4_decline(sv, "IncompleteSignatureException",
                   "Authorization header requires 'Credential', "
                   "'Signature' and 'SignedHeaders' parameters");
    }

    return NGX_OK;
}


/* Credential=AKID/20240101/us-east-1/states/aws4_request */

static ngx_int_t
ngx_http_sfn_sigv4_credential_scope(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv)
{
    u_char      *p, *q, *last;
    ngx_str_t   *parts[4];
    ngx_uint_t   i;

    parts[0] = &sv->akid;
    parts[1] = &sv->date;
    parts[2] = &sv->region;
    parts[3] = &sv->service;

    p = sv->cred.data;
    last = sv->cred.data + sv->cred.len;

    for (i = 0; i < 4; i++) {
        q = ngx_strlchr(p, last, '/');

        if (q == NULL) {
            return ngx_http_sfn_sigv4_decline(sv,
                       "IncompleteSignatureException",
                       "Credential should have 5 parts: "
                       "AKID/date/region/service/aws4_request");
        }

        parts[i]->data = p;
        parts[i]->len = q - p;
        p = q + 1;
    }

    if ((size_t) (last - p) != sizeof("aws4_request") - 1
        || ngx_strncmp(p, "aws4_request", last - p) != 0)
    {
        return ngx_http_sfn_sigv4_decline(sv, "IncompleteSignatureException",
                   "Credential should be scoped with a valid terminator: "
                   "'aws4_request'");
    }

    sv->scope.data = sv->akid.data + sv->akid.len + 1;
    sv->scope.len = sv->cred.len - sv->akid.len - 1;

    return NGX_OK;
}


/*
 * The key of the access key id, and the scope: this node's region (the
 * "sfn_region"), the service "states".  AWS checks the region first.
 */

static ngx_int_t
ngx_http_sfn_sigv4_access_key(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv)
{
    ngx_uint_t                 i;
    ngx_http_sfn_aws_key_t    *k;
    ngx_http_sfn_main_conf_t  *smcf;

    k = sv->keys->elts;

    for (i = 0; i < sv->keys->nelts; i++) {
        if (ngx_http_sfn_auth_equal(&k[i].id, sv->akid.data, sv->akid.len)) {
            sv->key = &k[i];
            break;
        }
    }

    if (sv->key == NULL) {
        return ngx_http_sfn_sigv4_decline(sv, "UnrecognizedClientException",
                   "The security token included in the request is "
                   "invalid.");
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_sfn_module);

    if (sv->region.len != smcf->region.len
        || ngx_strncmp(sv->region.data, smcf->region.data, sv->region.len)
           != 0)
    {
        return ngx_http_sfn_sigv4_decline(sv, "InvalidSignatureException",
                   "Credential should be scoped to a valid region.");
    }

    if (sv->service.len != sizeof("states") - 1
        || ngx_strncmp(sv->service.data, "states", sv->service.len) != 0)
    {
        return ngx_http_sfn_sigv4_decline(sv, "InvalidSignatureException",
                   "Credential should be scoped to correct service: "
                   "'states'.");
    }

    return NGX_OK;
}


/* 1 when name (lowercase) is among the SignedHeaders */

static ngx_uint_t
ngx_http_sfn_sigv4_is_signed(ngx_http_sfn_sigv4_t *sv, const char *name)
{
    u_char  *p, *q, *last;
    size_t   len;

    len = ngx_strlen(name);
    last = sv->signed_hdrs.data + sv->signed_hdrs.len;

    for (p = sv->signed_hdrs.data; p < last; p = q + 1) {
        q = ngx_strlchr(p, last, ';');
        q = q ? q : last;

        if ((size_t) (q - p) == len
            && ngx_strncasecmp(p, (u_char *) name, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The headers a signature must cover: "host", so that a request signed
 * for another endpoint is not accepted here, and "x-amz-date", so that
 * the 15 minutes a signature lives are the signer's and not a replayer's.
 */

static ngx_int_t
ngx_http_sfn_sigv4_signed_headers(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv)
{
    if (!ngx_http_sfn_sigv4_is_signed(sv, "host")) {
        return ngx_http_sfn_sigv4_decline(sv, "InvalidSignatureException",
                   "'Host' or ':authority' must be a 'SignedHeader' in the "
                   "AWS Authorization.");
    }

    if (!ngx_http_sfn_sigv4_is_signed(sv, "x-amz-date")) {
        return ngx_http_sfn_sigv4_decline(sv, "InvalidSignatureException",
                   "'X-Amz-Date' must be a 'SignedHeader' in the AWS "
                   "Authorization.");
    }

    return NGX_OK;
}


/* X-Amz-Date: the day of the scope, within the allowed skew */

static ngx_int_t
ngx_http_sfn_sigv4_request_date(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv)
{
    time_t            t;
    ngx_table_elt_t  *h;

    h = ngx_http_sfn_header_in(r, "X-Amz-Date", sizeof("X-Amz-Date") - 1,
                               NULL);

    if (h == NULL) {
        return ngx_http_sfn_sigv4_decline(sv, "IncompleteSignatureException",
                   "Authorization header requires existence of either a "
                   "'X-Amz-Date' or a 'Date' header.");
    }

    sv->amzdate = h->value;
    t = ngx_http_sfn_sigv4_time(&sv->amzdate);

    if (t == -1 || sv->date.len != 8
        || ngx_strncmp(sv->date.data, sv->amzdate.data, 8) != 0)
    {
        return ngx_http_sfn_sigv4_decline(sv, "InvalidSignatureException",
                   "Date in Credential scope does not match YYYYMMDD from "
                   "ISO-8601 version of date from HTTP");
    }

    if (t < ngx_time() - NGX_HTTP_SFN_SIGV4_SKEW
        || t > ngx_time() + NGX_HTTP_SFN_SIGV4_SKEW)
    {
        return ngx_http_sfn_sigv4_decline(sv, "InvalidSignatureException",
                   "Signature expired: the X-Amz-Date is more than 15 "
                   "minutes away from the server's time.");
    }

    return NGX_OK;
}


/*
 * The hex SHA-256 of the payload as nginx read it, in memory or from the
 * temporary file (ngx_http_sfn_body_text() gathered both).  It is never
 * taken from X-Amz-Content-Sha256: that header, signed or not, must only
 * agree with it.  A captured request can still be sent again within the
 * 15 minutes of its X-Amz-Date, as AWS allows, but only with the body
 * that was signed.
 */

static ngx_int_t
ngx_http_sfn_sigv4_payload_hash(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv)
{
    ngx_table_elt_t  *h;

    ngx_http_sfn_sigv4_sha256(sv->body->data, sv->body->len, sv->payload);

    h = ngx_http_sfn_header_in(r, "X-Amz-Content-Sha256",
                               sizeof("X-Amz-Content-Sha256") - 1, NULL);

    if (h
        && (h->value.len != sizeof(sv->payload)
            || ngx_strncasecmp(h->value.data, sv->payload,
                               sizeof(sv->payload))
               != 0))
    {
        return ngx_http_sfn_sigv4_decline(sv, "InvalidSignatureException",
                   "The provided 'x-amz-content-sha256' header does not "
                   "match what was computed.");
    }

    return NGX_OK;
}


/* the canonical request, hashed into sv->hash */

static ngx_int_t
ngx_http_sfn_sigv4_canonical_request(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv)
{
    u_char           *p, *q, *last, *creq, *canon;
    size_t            len, n;
    ngx_str_t         path, *args, name;
    ngx_uint_t        i, nargs;
    ngx_array_t       hdrs;
    ngx_table_elt_t  *h;

    path.data = r->unparsed_uri.data;
    path.len = r->args_start ? (size_t) (r->args_start - 1 - path.data)
                             : r->unparsed_uri.len;

    nargs = 0;
    args = NULL;

    if (r->args.len) {
        nargs = 1;

        for (i = 0; i < r->args.len; i++) {
            nargs += (r->args.data[i] == '&');
        }

        args = ngx_palloc(r->pool, nargs * sizeof(ngx_str_t));
        if (args == NULL) {
            return NGX_ERROR;
        }

        p = r->args.data;
        last = p + r->args.len;

        for (i = 0; i < nargs; i++) {
            q = ngx_strlchr(p, last, '&');
            q = q ? q : last;
            args[i].data = p;
            args[i].len = q - p;
            p = q + 1;
        }

        ngx_qsort(args, nargs, sizeof(ngx_str_t), ngx_http_sfn_sigv4_cmp);
    }

    if (ngx_array_init(&hdrs, r->pool, 8, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    len = 16 + 3 * path.len + r->args.len + 2 * nargs + sv->signed_hdrs.len
          + sizeof(sv->hash);

    /* every signed header, its values joined by ',' in order of arrival */

    p = sv->signed_hdrs.data;
    last = sv->signed_hdrs.data + sv->signed_hdrs.len;

    while (p < last) {
        q = ngx_strlchr(p, last, ';');
        q = q ? q : last;

        name.data = p;
        name.len = q - p;
        p = q + 1;

        len += name.len + 2;

        for (h = ngx_http_sfn_header_in(r, (char *) name.data, name.len,
                                        NULL);
             h;
             h = ngx_http_sfn_header_in(r, (char *) name.data, name.len, h))
        {
            len += h->value.len + 1;
        }

        if (ngx_array_push(&hdrs) == NULL) {
            return NGX_ERROR;
        }

        ((ngx_str_t *) hdrs.elts)[hdrs.nelts - 1] = name;
    }

    creq = ngx_pnalloc(r->pool, len);
    if (creq == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(creq, r->method_name.data, r->method_name.len);
    *p++ = '\n';
    p = ngx_http_sfn_sigv4_encode(p, path.data, path.len);
    *p++ = '\n';

    for (i = 0; i < nargs; i++) {
        if (i) {
            *p++ = '&';
        }

        p = ngx_cpymem(p, args[i].data, args[i].len);

        if (ngx_strlchr(args[i].data, args[i].data + args[i].len, '=')
            == NULL)
        {
            *p++ = '=';
        }
    }

    *p++ = '\n';

    for (n = 0; n < hdrs.nelts; n++) {
        name = ((ngx_str_t *) hdrs.elts)[n];

        for (i = 0; i < name.len; i++) {
            *p++ = ngx_tolower(name.data[i]);
        }

        *p++ = ':';
        canon = p;

        for (h = ngx_http_sfn_header_in(r, (char *) name.data, name.len,
                                        NULL);
             h;
             h = ngx_http_sfn_header_in(r, (char *) name.data, name.len, h))
        {
            if (p != canon) {
                *p++ = ',';
            }

            /* trimmed, inner runs of spaces collapsed */

            q = h->value.data;
            last = q + h->value.len;

            while (q < last && *q == ' ') {
                q++;
            }

            while (last > q && last[-1] == ' ') {
                last--;
            }

            for ( /* void */ ; q < last; q++) {
                if (*q == ' ' && p > canon && p[-1] == ' ') {
                    continue;
                }

                *p++ = *q;
            }
        }

        *p++ = '\n';
    }

    *p++ = '\n';
    p = ngx_cpymem(p, sv->signed_hdrs.data, sv->signed_hdrs.len);
    *p++ = '\n';

    p = ngx_cpymem(p, sv->payload, sizeof(sv->payload));

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "sfn sigv4 canonical request:\n%*s", p - creq, creq);

    ngx_http_sfn_sigv4_sha256(creq, p - creq, sv->hash);

    return NGX_OK;
}


static ngx_int_t
ngx_http_sfn_sigv4_string_to_sign(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv)
{
    u_char  *p;
    size_t   len;

    len = sizeof("AWS4-HMAC-SHA256\n") - 1 + sv->amzdate.len + 1
          + sv->scope.len + 1 + sizeof(sv->hash);

    sv->sts.data = ngx_pnalloc(r->pool, len);
    if (sv->sts.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(sv->sts.data, "AWS4-HMAC-SHA256\n%V\n%V\n", &sv->amzdate,
                    &sv->scope);
    p = ngx_cpymem(p, sv->hash, sizeof(sv->hash));

    sv->sts.len = p - sv->sts.data;

    return NGX_OK;
}


/* the signing key: HMAC("AWS4" + secret, date), region, service */

static ngx_int_t
ngx_http_sfn_sigv4_signing_key(ngx_http_request_t *r,
    ngx_http_sfn_sigv4_t *sv)
{
    u_char                  *secret;
    size_t                   len;
    ngx_http_sfn_aws_key_t  *key;
    u_char                   kdate[EVP_MAX_MD_SIZE], ksig[EVP_MAX_MD_SIZE];

    key = sv->key;

    if (key == ngx_http_sfn_sigv4_key
        && sv->scope.len == ngx_http_sfn_sigv4_scope_len
        && ngx_memcmp(sv->scope.data, ngx_http_sfn_sigv4_scope,
                      sv->scope.len) == 0)
    {
        return NGX_OK;
    }

    ngx_http_sfn_sigv4_key = NULL;

    len = sizeof("AWS4") - 1 + key->secret.len;

    secret = ngx_pnalloc(r->pool, len);
    if (secret == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(secret, "AWS4", 4), key->secret.data,
               key->secret.len);

    ngx_http_sfn_sigv4_hmac(secret, len, sv->date.data, sv->date.len, kdate);
    ngx_http_sfn_sigv4_hmac(kdate, SHA256_DIGEST_LENGTH, sv->region.data,
                            sv->region.len, ksig);
    ngx_http_sfn_sigv4_hmac(ksig, SHA256_DIGEST_LENGTH, sv->service.data,
                            sv->service.len, kdate);
    ngx_http_sfn_sigv4_hmac(kdate, SHA256_DIGEST_LENGTH,
                            (u_char *) "aws4_request",
                            sizeof("aws4_request") - 1,
                            ngx_http_sfn_sigv4_ksig);

    if (sv->scope.len <= NGX_HTTP_SFN_SIGV4_SCOPE) {
        ngx_memcpy(ngx_http_sfn_sigv4_scope, sv->scope.data, sv->scope.len);
        ngx_http_sfn_sigv4_scope_len = sv->scope.len;
        ngx_http_sfn_sigv4_key = key;
    }

    return NGX_OK;
}


/* the signature of the string to sign against the one given */

static ngx_int_t
ngx_http_sfn_sigv4_compare(ngx_http_request_t *r, ngx_http_sfn_sigv4_t *sv)
{
    u_char  mac[EVP_MAX_MD_SIZE];
    u_char  hex[SHA256_DIGEST_LENGTH * 2];

    ngx_http_sfn_sigv4_hmac(ngx_http_sfn_sigv4_ksig, SHA256_DIGEST_LENGTH,
                            sv->sts.data, sv->sts.len, mac);

    ngx_hex_dump(hex, mac, SHA256_DIGEST_LENGTH);

    if (sv->sig.len != sizeof(hex)
        || CRYPTO_memcmp(sv->sig.data, hex, sizeof(hex)))
    {
        return ngx_http_sfn_sigv4_decline(sv, "InvalidSignatureException",
                   "The request signature we calculated does not match the "
                   "signature you provided. Check your AWS Secret Access Key "
                   "and signing method. Consult the service documentation "
                   "for details.");
    }

    return NGX_OK;
}


static ngx_http_sfn_sigv4_step_pt  ngx_http_sfn_sigv4_steps[] = {
    ngx_http_sfn_sigv4_authorization,
    ngx_http_sfn_sigv4_credential_scope,
    ngx_http_sfn_sigv4_access_key,
    ngx_http_sfn_sigv4_signed_headers,
    ngx_http_sfn_sigv4_request_date,
    ngx_http_sfn_sigv4_payload_hash,
    ngx_http_sfn_sigv4_canonical_request,
    ngx_http_sfn_sigv4_string_to_sign,
    ngx_http_sfn_sigv4_signing_key,
    ngx_http_sfn_sigv4_compare,
    NULL
};


/*
 * Checks the Authorization header of an AWS JSON request against keys.
 * On NGX_DECLINED, type and message are AWS's error for the reply.
 */

ngx_int_t
ngx_http_sfn_auth_sigv4(ngx_http_request_t *r, ngx_array_t *keys,
    ngx_str_t *body, const char **type, const char **message)
{
    ngx_int_t                    rc;
    ngx_http_sfn_sigv4_t         sv;
    ngx_http_sfn_sigv4_step_pt  *step;

    ngx_memzero(&sv, sizeof(ngx_http_sfn_sigv4_t));

    sv.keys = keys;
    sv.body = body;

    for (step = ngx_http_sfn_sigv4_steps; *step; step++) {
        rc = (*step)(r, &sv);

        if (rc == NGX_DECLINED) {
            *type = sv.type;
            *message = sv.message;
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}
