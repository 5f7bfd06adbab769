/*
 * Attaches a classic BPF socket filter (SO_ATTACH_FILTER, see socket(7) and
 * Documentation/networking/filter.rst) to a listening TCP socket, so the kernel drops SYNs from
 * banned addresses before it builds a request socket, completes a handshake or wakes Node.
 *
 * Why native: Node has no setsockopt API, and the cost we remove is exactly the part Node pays
 * per connection (accept, a handle, a Socket object, then destroy): under a connection flood
 * from a banned address that was most of the gateway's CPU (bench/BENCHMARKS.md, issue 5).
 * SO_ATTACH_FILTER needs no privilege: a process may filter its own sockets. The program itself
 * is compiled in JS (src/shield/kernel-filter/bpf.ts); this file only hands it to the kernel.
 * Node-API only; Linux only; Palisade checks bans in user space whether or not this is built.
 *
 *   attach(fd: number, program: Uint8Array)   program = n × struct sock_filter (8 bytes each)
 *   detach(fd: number)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <linux/filter.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>

#ifndef SO_DETACH_FILTER
#define SO_DETACH_FILTER 27
#endif

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int get_fd(napi_env env, napi_value v, int *fd) {
  int32_t n;
  if (napi_get_value_int32(env, v, &n) != napi_ok || n < 0) {
    napi_throw_type_error(env, NULL, "fd must be a non-negative integer");
    return 0;
  }
  *fd = n;
  return 1;
}

static napi_value js_attach(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 2 || !get_fd(env, argv[0], &fd)) return NULL;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      length == 0 || length % sizeof(struct sock_filter) != 0 || length / sizeof(struct sock_filter) > BPF_MAXINSNS) {
    napi_throw_type_error(env, NULL, "program must be a Uint8Array of 1..4096 sock_filter entries");
    return NULL;
  }
  struct sock_fprog prog = { .len = (unsigned short)(length / sizeof(struct sock_filter)), .filter = (struct sock_filter *)data };
  /* The kernel copies and verifies the program; a rejected one leaves the old filter in place. */
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0) return throw_errno(env, "SO_ATTACH_FILTER");
  return NULL;
}

static napi_value js_detach(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 1 || !get_fd(env, argv[0], &fd)) return NULL;
  int zero = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &zero, sizeof zero) != 0 && errno != ENOENT) return throw_errno(env, "SO_DETACH_FILTER");
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "attach", NAPI_AUTO_LENGTH, js_attach, NULL, &fn);
  napi_set_named_property(env, exports, "attach", fn);
  napi_create_function(env, "detach", NAPI_AUTO_LENGTH, js_detach, NULL, &fn);
  napi_set_named_property(env, exports, "detach", fn);
  return exports;
}
