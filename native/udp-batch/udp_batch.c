/*
 * Batched UDP I/O for the CoAP listener: recvmmsg(2) and sendmmsg(2) on a non-blocking socket
 * watched by a libuv poll handle.
 *
 * Why native: node:dgram makes one JS call, one Buffer and one address object per datagram
 * received, and one send request per datagram sent. On a small VM that per-datagram cost is
 * most of a CoAP request's CPU (bench/BENCHMARKS.md, issue 4). Node offers no batched UDP API,
 * so this addon hands JS a batch of up to BATCH datagrams per call and sends a batch of
 * responses with one system call. Node-API only (no V8 or node internals), so it builds against
 * any Node >= 24 headers. Linux only; src/protocols/coap/batched-udp.ts falls back to node:dgram
 * when this file is not built.
 *
 * Receive: one shared buffer of BATCH slots of SLOT bytes and a metadata area of RECV_META bytes
 * per datagram: u32 length, u16 port, u8 family (4|6), u8 pad, 16 address bytes. Both are
 * exposed to JS once, as external ArrayBuffers; JS copies what it keeps before it returns.
 * Send: JS packs datagrams into one buffer and passes SEND_META bytes per datagram:
 * u32 offset, u32 length, u16 port, u8 family, u8 pad, 16 address bytes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 64
#define SLOT 65536
#define RECV_META 24
#define SEND_META 28
/* Batches read per readiness event before yielding to the rest of the event loop. */
#define ROUNDS 4

typedef struct {
  int fd;
  int closed;
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context async_context;
  unsigned char *recv_buf;
  unsigned char *recv_meta;
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage addrs[BATCH];
} batch_socket;

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static void write_address(unsigned char *m, const struct sockaddr_storage *a) {
  memset(m + 8, 0, 16);
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
    uint16_t port = ntohs(a6->sin6_port);
    memcpy(m + 4, &port, 2);
    m[6] = 6;
    memcpy(m + 8, &a6->sin6_addr, 16);
  } else {
    const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
    uint16_t port = ntohs(a4->sin_port);
    memcpy(m + 4, &port, 2);
    m[6] = 4;
    memcpy(m + 8, &a4->sin_addr, 4);
  }
}

static void deliver(batch_socket *s, int count) {
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback, global, argv[1], resource, result;
  napi_get_reference_value(env, s->callback, &callback);
  napi_get_global(env, &global);
  napi_create_int32(env, count, &argv[0]);
  napi_create_object(env, &resource);
  /* A callback scope, so promise jobs queued by the handler run when it returns (as after a dgram 'message'). */
  napi_callback_scope cscope;
  napi_open_callback_scope(env, resource, s->async_context, &cscope);
  napi_status status = napi_call_function(env, global, callback, 1, argv, &result);
  napi_close_callback_scope(env, cscope);
  if (status == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  batch_socket *s = (batch_socket *)handle->data;
  if (status < 0) return;
  for (int round = 0; round < ROUNDS && !s->closed; round++) {
    for (int i = 0; i < BATCH; i++) {
      s->iov[i].iov_base = s->recv_buf + (size_t)i * SLOT;
      s->iov[i].iov_len = SLOT;
      memset(&s->msgs[i].msg_hdr, 0, sizeof(struct msghdr));
      s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
      s->msgs[i].msg_hdr.msg_iovlen = 1;
      s->msgs[i].msg_hdr.msg_name = &s->addrs[i];
      s->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int n = recvmmsg(s->fd, s->msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) return; /* EAGAIN: drained; other errors (ICMP reports) are not ours to act on */
    for (int i = 0; i < n; i++) {
      unsigned char *m = s->recv_meta + (size_t)i * RECV_META;
      uint32_t len = s->msgs[i].msg_len;
      memcpy(m, &len, 4);
      m[7] = 0;
      write_address(m, &s->addrs[i]);
    }
    deliver(s, n);
    if (n < BATCH) return;
  }
}

static int parse_address(int family, const char *host, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  if (family == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)port);
    *len = sizeof *a;
    return inet_pton(AF_INET6, host, &a->sin6_addr) == 1;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)ss;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  *len = sizeof *a;
  return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

/* open(family: 4|6, host, port, bufferBytes, onBatch(count)) -> [handle, boundPort, recvBuffer, recvMeta] */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "open(family, host, port, bufferBytes, onBatch)");
    return NULL;
  }
  int32_t family = 4, port = 0, buffer_bytes = 0;
  char host[INET6_ADDRSTRLEN + 1];
  size_t host_len = 0;
  napi_get_value_int32(env, argv[0], &family);
  if (napi_get_value_string_utf8(env, argv[1], host, sizeof host, &host_len) != napi_ok) {
    napi_throw_type_error(env, NULL, "host must be a string");
    return NULL;
  }
  napi_get_value_int32(env, argv[2], &port);
  napi_get_value_int32(env, argv[3], &buffer_bytes);
  struct sockaddr_storage ss;
  socklen_t ss_len;
  if (!parse_address(family, host, port, &ss, &ss_len)) {
    napi_throw_error(env, NULL, "not an IP address");
    return NULL;
  }
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (buffer_bytes > 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
  }
  if (bind(fd, (struct sockaddr *)&ss, ss_len) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  ss_len = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &ss_len);
  int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port : ((struct sockaddr_in *)&ss)->sin_port);

  batch_socket *s = calloc(1, sizeof *s);
  s->recv_buf = malloc((size_t)BATCH * SLOT);
  s->recv_meta = calloc(BATCH, RECV_META);
  if (!s->recv_buf || !s->recv_meta) {
    close(fd);
    free(s->recv_buf);
    free(s->recv_meta);
    free(s);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  s->fd = fd;
  s->env = env;
  napi_create_reference(env, argv[4], 1, &s->callback);
  napi_value name, resource;
  napi_create_string_utf8(env, "palisade:udp-batch", NAPI_AUTO_LENGTH, &name);
  napi_create_object(env, &resource);
  napi_async_init(env, resource, name, &s->async_context);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init_socket(loop, &s->poll, fd);
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);

  napi_value handle, port_value, recv_ab, meta_ab, out;
  napi_create_external(env, s, NULL, NULL, &handle);
  napi_create_int32(env, bound, &port_value);
  napi_create_external_arraybuffer(env, s->recv_buf, (size_t)BATCH * SLOT, NULL, NULL, &recv_ab);
  napi_create_external_arraybuffer(env, s->recv_meta, (size_t)BATCH * RECV_META, NULL, NULL, &meta_ab);
  napi_create_array_with_length(env, 4, &out);
  napi_set_element(env, out, 0, handle);
  napi_set_element(env, out, 1, port_value);
  napi_set_element(env, out, 2, recv_ab);
  napi_set_element(env, out, 3, meta_ab);
  return out;
}

/* send(handle, data: Uint8Array, meta: Uint8Array, count) -> datagrams the kernel refused (dropped, as UDP may). */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  batch_socket *s = NULL;
  void *data = NULL, *meta = NULL;
  size_t data_len = 0, meta_len = 0;
  int32_t count = 0;
  if (argc < 4 || napi_get_value_external(env, argv[0], (void **)&s) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], NULL, &data_len, &data, NULL, NULL) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], NULL, &meta_len, &meta, NULL, NULL) != napi_ok ||
      napi_get_value_int32(env, argv[3], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(handle, data, meta, count)");
    return NULL;
  }
  int dropped = 0;
  if (s->closed || count < 0 || (size_t)count * SEND_META > meta_len) count = 0;
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage addrs[BATCH];
  for (int base = 0; base < count; base += BATCH) {
    int n = count - base < BATCH ? count - base : BATCH;
    for (int i = 0; i < n; i++) {
      const unsigned char *m = (const unsigned char *)meta + (size_t)(base + i) * SEND_META;
      uint32_t off, len;
      uint16_t port;
      memcpy(&off, m, 4);
      memcpy(&len, m + 4, 4);
      memcpy(&port, m + 8, 2);
      if ((size_t)off + len > data_len) off = 0, len = 0;
      iov[i].iov_base = (unsigned char *)data + off;
      iov[i].iov_len = len;
      memset(&msgs[i], 0, sizeof msgs[i]);
      memset(&addrs[i], 0, sizeof addrs[i]);
      if (m[10] == 6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&addrs[i];
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        memcpy(&a->sin6_addr, m + 12, 16);
        msgs[i].msg_hdr.msg_namelen = sizeof *a;
      } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&addrs[i];
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        memcpy(&a->sin_addr, m + 12, 4);
        msgs[i].msg_hdr.msg_namelen = sizeof *a;
      }
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int done = 0;
    while (done < n) {
      int r = sendmmsg(s->fd, msgs + done, (unsigned int)(n - done), MSG_DONTWAIT);
      if (r < 0) {
        if (errno == EINTR) continue;
        /* The datagram at `done` was refused (full buffer, unreachable): drop it, send the rest. */
        dropped++;
        done++;
        continue;
      }
      done += r;
    }
  }
  napi_value out;
  napi_create_int32(env, dropped, &out);
  return out;
}

static void on_closed(uv_handle_t *handle) {
  batch_socket *s = (batch_socket *)handle->data;
  close(s->fd);
  free(s->recv_buf);
  free(s->recv_meta);
  free(s);
}

/* close(handle): stops reading; the memory goes once libuv released the poll handle. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  batch_socket *s = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&s) != napi_ok || s->closed) return NULL;
  s->closed = 1;
  uv_poll_stop(&s->poll);
  napi_delete_reference(env, s->callback);
  napi_async_destroy(env, s->async_context);
  uv_close((uv_handle_t *)&s->poll, on_closed);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, js_open, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  napi_create_function(env, "send", NAPI_AUTO_LENGTH, js_send, NULL, &fn);
  napi_set_named_property(env, exports, "send", fn);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, js_close, NULL, &fn);
  napi_set_named_property(env, exports, "close", fn);
  return exports;
}
