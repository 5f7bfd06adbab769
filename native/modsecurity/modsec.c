/*
 * ModSecurity v3 (libmodsecurity3, Debian) as an optional WAF engine (issue 5, point 3), so an
 * operator who wants the full OWASP Core Rule Set gets CRS itself, not a re-implementation.
 *
 * Why native: there is no ModSecurity in JavaScript. CRS is written in SecLang and depends on
 * ModSecurity's operators (@rx with PCRE semantics, @pm/@pmFromFile Aho-Corasick, @detectSQLi and
 * @detectXSS from libinjection), its transformations (t:urlDecodeUni, t:cmdLine, ...), its body
 * processors (URL-encoded, JSON, multipart) and its collections; re-implementing that would be a
 * second ModSecurity. libmodsecurity exposes a C API (modsecurity/modsecurity.h, rules_set.h,
 * transaction.h), which this file binds with Node-API. Palisade's own engine
 * (src/shield/waf/engine.ts) is always there; this one is built only where libmodsecurity-dev is
 * installed (scripts/build-native.sh) and used only when shield.waf.engine asks for it.
 *
 *   create(directives: string): handle     throws ModSecurity's parser error text
 *   inspect(handle, { clientIp, clientPort, method, uri, headers: string[] (k, v, k, v, ...),
 *                     body: Buffer | null }): { status, disrupted, ruleIds: number[] }
 *
 * Synchronous: one transaction runs phases 1 and 2 (connection, URI, request headers, request
 * body) on the calling thread. Matched rule ids are collected from the log callback's messages
 * (`[id "942100"]`), which ModSecurity calls with the transaction's own callback data.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modsecurity/intervention.h>
#include <modsecurity/modsecurity.h>
#include <modsecurity/rules_set.h>
#include <modsecurity/transaction.h>

#define MAX_IDS 64

typedef struct {
  ModSecurity *msc;
  RulesSet *rules;
} Engine;

/* What the log callback gathers during one transaction. */
typedef struct {
  uint32_t ids[MAX_IDS];
  size_t count;
} Matches;

static void add_id(Matches *m, uint32_t id) {
  for (size_t i = 0; i < m->count; i++)
    if (m->ids[i] == id) return;
  if (m->count < MAX_IDS) m->ids[m->count++] = id;
}

/* ModSecurity's text log line: every `[id "NNN"]` in it. */
static void log_cb(void *data, const void *msg) {
  if (data == NULL || msg == NULL) return;
  Matches *m = (Matches *)data;
  const char *p = (const char *)msg;
  while ((p = strstr(p, "[id \"")) != NULL) {
    p += 5;
    char *end;
    unsigned long id = strtoul(p, &end, 10);
    if (end != p && *end == '"' && id > 0 && id <= UINT32_MAX) add_id(m, (uint32_t)id);
  }
}

static void engine_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Engine *e = (Engine *)data;
  if (e == NULL) return;
  if (e->rules) msc_rules_cleanup(e->rules);
  if (e->msc) msc_cleanup(e->msc);
  free(e);
}

/* A JS string as a NUL-terminated heap copy (caller frees); NULL after throwing. */
static char *get_string(napi_env env, napi_value v, const char *what, size_t *len_out) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a string", what);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (s == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (len_out) *len_out = len;
  return s;
}

static char *get_prop_string(napi_env env, napi_value obj, const char *name, size_t *len_out) {
  napi_value v;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return NULL;
  return get_string(env, v, name, len_out);
}

static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "create(directives: string)");
    return NULL;
  }
  char *directives = get_string(env, argv[0], "directives", NULL);
  if (directives == NULL) return NULL;
  Engine *e = calloc(1, sizeof *e);
  if (e == NULL) {
    free(directives);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  e->msc = msc_init();
  msc_set_connector_info(e->msc, "palisade-modsec/1.0");
  msc_set_log_cb(e->msc, log_cb);
  e->rules = msc_create_rules_set();
  const char *error = NULL;
  int rc = msc_rules_add(e->rules, directives, &error);
  free(directives);
  if (rc < 0) {
    char msg[1024];
    snprintf(msg, sizeof msg, "ModSecurity rules: %s", error ? error : "failed to load");
    /* rules_set.cc strdup()s the parser error for the caller. */
    free((void *)error);
    engine_free(env, e, NULL);
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  free((void *)error);
  napi_value handle;
  if (napi_create_external(env, e, engine_free, NULL, &handle) != napi_ok) {
    engine_free(env, e, NULL);
    napi_throw_error(env, NULL, "cannot create the engine handle");
    return NULL;
  }
  return handle;
}

/* Fills and frees one intervention; returns 1 when it disrupts. */
static int take_intervention(Transaction *t, int *status) {
  ModSecurityIntervention it;
  it.status = 200;
  it.pause = 0;
  it.url = NULL;
  it.log = NULL;
  it.disruptive = 0;
  int disrupt = msc_intervention(t, &it);
  if (disrupt) *status = it.status;
  free(it.url);
  free(it.log);
  return disrupt != 0;
}

static napi_value js_inspect(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  Engine *e = NULL;
  if (argc < 2 || napi_get_value_external(env, argv[0], (void **)&e) != napi_ok || e == NULL) {
    napi_throw_type_error(env, NULL, "inspect(handle, request)");
    return NULL;
  }
  napi_value req = argv[1];
  char *ip = NULL, *method = NULL, *uri = NULL;
  char **hv = NULL;
  size_t *hl = NULL;
  uint32_t nh = 0;
  napi_value result = NULL;
  Transaction *t = NULL;
  Matches matches;
  matches.count = 0;

  int32_t port = 0;
  napi_value v;
  if (!(ip = get_prop_string(env, req, "clientIp", NULL))) goto done;
  if (!(method = get_prop_string(env, req, "method", NULL))) goto done;
  if (!(uri = get_prop_string(env, req, "uri", NULL))) goto done;
  if (napi_get_named_property(env, req, "clientPort", &v) == napi_ok) napi_get_value_int32(env, v, &port);

  napi_value headers;
  bool is_array = false;
  if (napi_get_named_property(env, req, "headers", &headers) != napi_ok || napi_is_array(env, headers, &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "headers must be an array [name, value, ...]");
    goto done;
  }
  napi_get_array_length(env, headers, &nh);
  nh &= ~1u;
  if (nh > 0) {
    hv = calloc(nh, sizeof *hv);
    hl = calloc(nh, sizeof *hl);
    if (hv == NULL || hl == NULL) {
      napi_throw_error(env, NULL, "out of memory");
      goto done;
    }
    for (uint32_t i = 0; i < nh; i++) {
      napi_value item;
      napi_get_element(env, headers, i, &item);
      if (!(hv[i] = get_string(env, item, "header", &hl[i]))) goto done;
    }
  }

  void *body = NULL;
  size_t body_len = 0;
  napi_value bv;
  bool is_buffer = false;
  if (napi_get_named_property(env, req, "body", &bv) == napi_ok && napi_is_buffer(env, bv, &is_buffer) == napi_ok && is_buffer)
    napi_get_buffer_info(env, bv, &body, &body_len);

  /* The transaction; its log callback data is this call's Matches. */
  t = msc_new_transaction(e->msc, e->rules, &matches);
  if (t == NULL) {
    napi_throw_error(env, NULL, "msc_new_transaction failed");
    goto done;
  }
  int status = 200;
  int disrupted = 0;
  msc_process_connection(t, ip, port, "127.0.0.1", 443);
  disrupted = take_intervention(t, &status);
  if (!disrupted) {
    msc_process_uri(t, uri, method, "1.1");
    disrupted = take_intervention(t, &status);
  }
  if (!disrupted) {
    for (uint32_t i = 0; i + 1 < nh; i += 2)
      msc_add_n_request_header(t, (const unsigned char *)hv[i], hl[i], (const unsigned char *)hv[i + 1], hl[i + 1]);
    msc_process_request_headers(t);
    disrupted = take_intervention(t, &status);
  }
  /* CRS 3.3 evaluates the inbound anomaly score in phase 2 (rule 949110), so phase 2 runs even
   * without a body. */
  if (!disrupted) {
    if (body_len > 0) msc_append_request_body(t, (const unsigned char *)body, body_len);
    msc_process_request_body(t);
    disrupted = take_intervention(t, &status);
  }
  msc_process_logging(t);

  napi_value out, ids, n;
  napi_create_object(env, &out);
  napi_create_int32(env, disrupted ? status : 200, &n);
  napi_set_named_property(env, out, "status", n);
  napi_get_boolean(env, disrupted != 0, &n);
  napi_set_named_property(env, out, "disrupted", n);
  napi_create_array_with_length(env, matches.count, &ids);
  for (size_t i = 0; i < matches.count; i++) {
    napi_create_uint32(env, matches.ids[i], &n);
    napi_set_element(env, ids, (uint32_t)i, n);
  }
  napi_set_named_property(env, out, "ruleIds", ids);
  result = out;

done:
  if (t) msc_transaction_cleanup(t);
  free(ip);
  free(method);
  free(uri);
  if (hv) {
    for (uint32_t i = 0; i < nh; i++) free(hv[i]);
  }
  free(hv);
  free(hl);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "create", NAPI_AUTO_LENGTH, js_create, NULL, &fn);
  napi_set_named_property(env, exports, "create", fn);
  napi_create_function(env, "inspect", NAPI_AUTO_LENGTH, js_inspect, NULL, &fn);
  napi_set_named_property(env, exports, "inspect", fn);
  return exports;
}
