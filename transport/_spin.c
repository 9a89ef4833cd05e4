/* Thread hand-offs without the GIL, for the transport's I/O thread and its callers.
 *
 * wait():     the I/O thread's epoll_wait, first polling for up to spin_ns when an
 *             answer is expected soon (yielding the CPU between polls, so a thread
 *             runnable here goes first): on a virtual machine a sleeping thread costs
 *             tens of microseconds to wake, more than the wait.
 *             The eventfds it is given are written first, once the GIL is let go:
 *             the threads it wakes (actors, ask callers) find the GIL free.
 * hand_off(): signal one eventfd and sleep on another in ONE call without the GIL, so
 *             the thread we wake never finds the GIL held by us and sleeps again.
 *
 * Optional: without a C compiler the transport falls back to select.epoll and os.*.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define MAX_CHECKS 64
#define ZMQ_EVENTS_ 15
#define ZMQ_POLLIN_ 1

/* Bound by zmq_bind() below; wait() uses it to look at sockets without the GIL. */
static int (*z_getsockopt)(void *, int, void *, size_t *);
static int zmq_bound;

static long long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The ints of a list of eventfds to signal, copied so that they can be used without
 * the GIL. Returns the count, or -1 with an exception set. *out is buf, or memory
 * from PyMem_Malloc when the list did not fit in it (the caller frees that). */
static Py_ssize_t
fds_of(PyObject *list, int *buf, Py_ssize_t cap, int **out)
{
    *out = buf;
    if (list == NULL || list == Py_None)
        return 0;
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "signal_fds must be a list of ints");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(list);
    int *fds = buf;
    if (n > cap) {
        fds = PyMem_Malloc(n * sizeof(int));
        if (fds == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PyList_GET_ITEM(list, i));
        if (v == -1 && PyErr_Occurred()) {
            if (fds != buf)
                PyMem_Free(fds);
            return -1;
        }
        fds[i] = (int)v;
    }
    *out = fds;
    return n;
}

static void
signal_all(const int *fds, Py_ssize_t n)
{
    uint64_t one = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        ssize_t w = write(fds[i], &one, sizeof one);
        (void)w; /* EAGAIN: saturated, the reader is awake anyway */
    }
}

static PyObject *
spin_wait(PyObject *self, PyObject *args)
{
    int epfd;
    double timeout;
    long long spin_ns;
    PyObject *signal_list = NULL, *check_list = NULL;
    if (!PyArg_ParseTuple(args, "idL|OO", &epfd, &timeout, &spin_ns, &signal_list, &check_list))
        return NULL;
    void *check[MAX_CHECKS];
    Py_ssize_t n_check = 0;
    if (check_list != NULL && check_list != Py_None) {
        if (!PyList_Check(check_list)) {
            PyErr_SetString(PyExc_TypeError, "check must be a list of socket handles");
            return NULL;
        }
        n_check = PyList_GET_SIZE(check_list);
        if (n_check > 0 && !zmq_bound) {
            PyErr_SetString(PyExc_RuntimeError, "libzmq is not bound (zmq_bind)");
            return NULL;
        }
        if (n_check > MAX_CHECKS) {
            PyErr_Format(PyExc_ValueError, "at most %d sockets to check, got %zd", MAX_CHECKS,
                         n_check);
            return NULL;
        }
        for (Py_ssize_t i = 0; i < n_check; i++) {
            check[i] = PyLong_AsVoidPtr(PyList_GET_ITEM(check_list, i));
            if (check[i] == NULL) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "a null socket handle");
                return NULL;
            }
        }
    }
    int readable[MAX_CHECKS];
    int n_readable = 0;
    int ms = timeout < 0 ? -1 : (int)(timeout * 1000.0 + 0.999);
    struct epoll_event evs[MAX_EVENTS];
    int n = 0, err = 0, polled = 0;
    if (epfd < 0) {
        PyErr_Format(PyExc_ValueError, "epfd %d is not a file descriptor", epfd);
        return NULL;
    }
    int sig_buf[64];
    int *sig;
    Py_ssize_t n_sig = fds_of(signal_list, sig_buf, 64, &sig);
    if (n_sig < 0)
        return NULL;
    /* Taken: the caller's list is emptied for its next turn. */
    if (n_sig > 0 && PyList_SetSlice(signal_list, 0, n_sig, NULL) < 0) {
        if (sig != sig_buf)
            PyMem_Free(sig);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    signal_all(sig, n_sig); /* without the GIL: whoever wakes finds it free */
    /* Sockets that a send or a partial read may have left readable without their fd
     * saying so: looked at now, while the threads just woken run, not before. */
    for (Py_ssize_t i = 0; i < n_check; i++) {
        int ev = 0;
        size_t len = sizeof ev;
        if (z_getsockopt(check[i], ZMQ_EVENTS_, &ev, &len) != 0 || (ev & ZMQ_POLLIN_))
            readable[n_readable++] = (int)i; /* an error: let the caller's read see it */
    }
    if (n_readable > 0) {
        n = 0;
    } else if (spin_ns > 0) {
        long long end = now_ns() + spin_ns;
        polled = 1;
        for (;;) {
            n = epoll_wait(epfd, evs, MAX_EVENTS, 0);
            if (n != 0 || now_ns() >= end)
                break;
            /* Polite: a thread runnable on this CPU (the actor we just woke, if the
             * kernel put it here) runs now instead of after the spin. */
            sched_yield();
        }
    }
    if (n == 0 && n_readable == 0 && !(polled && ms == 0))
        n = epoll_wait(epfd, evs, MAX_EVENTS, ms);
    if (n < 0)
        err = errno;
    Py_END_ALLOW_THREADS
    if (sig != sig_buf)
        PyMem_Free(sig);
    if (n < 0) {
        if (err == EINTR)
            return PyList_New(0);
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *out = PyList_New(n + n_readable);
    if (out == NULL)
        return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *t = Py_BuildValue("(iI)", evs[i].data.fd, evs[i].events);
        if (t == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, t);
    }
    for (int i = 0; i < n_readable; i++) { /* (handle, 0): no epoll event is 0 */
        PyObject *t = Py_BuildValue("(Ni)", PyLong_FromVoidPtr(check[readable[i]]), 0);
        if (t == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, n + i, t);
    }
    return out;
}

static PyObject *
hand_off(PyObject *self, PyObject *args)
{
    int signal_fd, wait_fd;
    double timeout;
    if (!PyArg_ParseTuple(args, "iid", &signal_fd, &wait_fd, &timeout))
        return NULL;
    if (wait_fd < 0) {
        PyErr_Format(PyExc_ValueError, "wait_fd %d is not a file descriptor", wait_fd);
        return NULL;
    }
    int ms = timeout < 0 ? -1 : (int)(timeout * 1000.0 + 0.999);
    int n, err = 0;
    Py_BEGIN_ALLOW_THREADS
    if (signal_fd >= 0) {
        uint64_t one = 1;
        ssize_t w = write(signal_fd, &one, sizeof one);
        (void)w; /* EAGAIN: the counter is saturated, the reader is awake anyway */
    }
    struct pollfd p = {wait_fd, POLLIN, 0};
    do {
        n = poll(&p, 1, ms);
    } while (n < 0 && errno == EINTR && ms < 0);
    if (n > 0 && (p.revents & POLLNVAL)) {
        n = -1;
        err = EBADF;
    } else if (n > 0) {
        uint64_t v;
        ssize_t r = read(wait_fd, &v, sizeof v); /* wait_fd is non-blocking */
        (void)r;
    } else if (n < 0) {
        err = errno;
    }
    Py_END_ALLOW_THREADS
    if (n < 0 && err != EINTR) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyBool_FromLong(n > 0);
}

static PyObject *
signal_fd(PyObject *self, PyObject *arg)
{
    int fd = PyLong_AsLong(arg);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    uint64_t one = 1;
    ssize_t w = write(fd, &one, sizeof one); /* with the GIL held, on purpose */
    if (w < 0 && errno != EAGAIN)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}


/* ---- Direct libzmq calls for the I/O thread's hot path ----------------------------
 *
 * pyzmq's getsockopt() converts the option to an enum in Python on every call, and its
 * send() and recv_multipart() are Python wrappers; together several microseconds a
 * message. These call the very libzmq that pyzmq loaded (bound once by path, with
 * RTLD_NOLOAD: never a second copy) on the handle pyzmq exposes as Socket.underlying.
 * Same thread rule as pyzmq's own calls: only the thread that owns the socket.
 */

#define ZMQ_SNDMORE_ 2
#define ZMQ_DONTWAIT_ 1

typedef struct {
    unsigned char _[64];
} __attribute__((aligned(8))) zmsg_t;

static int (*z_send)(void *, const void *, size_t, int);
static int (*z_msg_init)(zmsg_t *);
static int (*z_msg_recv)(zmsg_t *, void *, int);
static int (*z_msg_close)(zmsg_t *);
static void *(*z_msg_data)(zmsg_t *);
static size_t (*z_msg_size)(const zmsg_t *);
static int (*z_msg_more)(const zmsg_t *);
static const char *(*z_msg_gets)(const zmsg_t *, const char *); /* optional (4.1+) */
static int (*z_errno)(void);
static const char *(*z_strerror)(int);

static PyObject *
zmq_bind_lib(PyObject *self, PyObject *arg)
{
    const char *path = PyUnicode_AsUTF8(arg);
    if (path == NULL)
        return NULL;
    void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    if (h == NULL)
        Py_RETURN_FALSE; /* not the library pyzmq loaded: keep using pyzmq */
#define SYM(var, name)                                                                   \
    do {                                                                                 \
        *(void **)(&var) = dlsym(h, name);                                               \
        if (var == NULL)                                                                 \
            Py_RETURN_FALSE;                                                             \
    } while (0)
    SYM(z_getsockopt, "zmq_getsockopt");
    SYM(z_send, "zmq_send");
    SYM(z_msg_init, "zmq_msg_init");
    SYM(z_msg_recv, "zmq_msg_recv");
    SYM(z_msg_close, "zmq_msg_close");
    SYM(z_msg_data, "zmq_msg_data");
    SYM(z_msg_size, "zmq_msg_size");
    SYM(z_msg_more, "zmq_msg_more");
    SYM(z_errno, "zmq_errno");
    SYM(z_strerror, "zmq_strerror");
#undef SYM
    *(void **)(&z_msg_gets) = dlsym(h, "zmq_msg_gets"); /* NULL: no zmq_recv_users */
    zmq_bound = 1;
    Py_RETURN_TRUE;
}

static void *
handle_of(PyObject *arg)
{
    if (!zmq_bound) {
        PyErr_SetString(PyExc_RuntimeError, "libzmq is not bound (zmq_bind)");
        return NULL;
    }
    void *h = PyLong_AsVoidPtr(arg);
    if (h == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_ValueError, "a null socket handle");
    return h;
}

static PyObject *
zmq_error(int err)
{
    errno = err;
    return PyErr_Format(PyExc_OSError, "libzmq: %s (errno %d)", z_strerror(err), err);
}

static PyObject *
zmq_events(PyObject *self, PyObject *arg)
{
    void *sock = handle_of(arg);
    if (sock == NULL)
        return NULL;
    int ev = 0;
    size_t len = sizeof ev;
    if (z_getsockopt(sock, ZMQ_EVENTS_, &ev, &len) != 0)
        return zmq_error(z_errno());
    return PyLong_FromLong(ev);
}

/* The loop behind recv_all and recv_users: read up to max_msgs whole messages without
 * blocking, each a list of its parts as bytes; with_user appends the User-Id the ZAP
 * handler gave the message's connection (bytes, b"" without one), read from the first
 * part's metadata. drained is True when the socket said EAGAIN (nothing left to read). */
static PyObject *
recv_messages(PyObject *args, int with_user)
{
    PyObject *harg;
    int max_msgs;
    if (!PyArg_ParseTuple(args, "Oi", &harg, &max_msgs))
        return NULL;
    void *sock = handle_of(harg);
    if (sock == NULL)
        return NULL;
    if (with_user && z_msg_gets == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "this libzmq has no zmq_msg_gets");
        return NULL;
    }
    PyObject *out = PyList_New(0);
    if (out == NULL)
        return NULL;
    int drained = 0;
    PyObject *parts = NULL;
    PyObject *user = NULL;
    for (int m = 0; m < max_msgs;) {
        zmsg_t msg;
        z_msg_init(&msg);
        int rc = z_msg_recv(&msg, sock, ZMQ_DONTWAIT_);
        if (rc < 0) {
            int err = z_errno();
            z_msg_close(&msg);
            if (err == EAGAIN && parts == NULL) {
                drained = 1;
                break;
            }
            if (err == EINTR)
                continue;
            zmq_error(err);
            goto fail;
        }
        if (with_user && parts == NULL) {
            const char *u = z_msg_gets(&msg, "User-Id");
            user = PyBytes_FromString(u != NULL ? u : "");
            if (user == NULL) {
                z_msg_close(&msg);
                goto fail;
            }
        }
        PyObject *b = PyBytes_FromStringAndSize(z_msg_data(&msg), (Py_ssize_t)z_msg_size(&msg));
        int more = z_msg_more(&msg);
        z_msg_close(&msg);
        if (b == NULL)
            goto fail;
        if (parts == NULL && (parts = PyList_New(0)) == NULL) {
            Py_DECREF(b);
            goto fail;
        }
        int r = PyList_Append(parts, b);
        Py_DECREF(b);
        if (r < 0)
            goto fail;
        if (!more) {
            if (with_user) {
                r = PyList_Append(parts, user);
                Py_CLEAR(user);
                if (r < 0)
                    goto fail;
            }
            r = PyList_Append(out, parts);
            Py_CLEAR(parts);
            if (r < 0)
                goto fail;
            m++;
        }
    }
    return Py_BuildValue("(NO)", out, drained ? Py_True : Py_False);
fail:
    Py_XDECREF(user);
    Py_XDECREF(parts);
    Py_DECREF(out);
    return NULL;
}

/* recv_all(handle, max_msgs) -> (messages, drained): each message a list of its parts
 * as bytes; drained is True when the socket said EAGAIN (nothing left to read). */
static PyObject *
zmq_recv_all(PyObject *self, PyObject *args)
{
    return recv_messages(args, 0);
}

/* recv_users(handle, max_msgs) -> (messages, drained): as recv_all, each message's parts
 * followed by one more item: the User-Id the ZAP handler gave its connection. A ROUTER's
 * ident is chosen by its peer; the User-Id is what ZAP authenticated (the peer's CURVE
 * key). */
static PyObject *
zmq_recv_users(PyObject *self, PyObject *args)
{
    return recv_messages(args, 1);
}

/* send(handle, data, ident=None) -> 0, or the errno (EAGAIN: no room; EHOSTUNREACH: a
 * ROUTER's peer is gone): non-blocking, and the caller decides what an error means.
 * With ident, the two parts [ident, data] (a ROUTER's addressing). */
static PyObject *
zmq_send_frame(PyObject *self, PyObject *args)
{
    PyObject *harg;
    Py_buffer data, ident = {0};
    PyObject *ident_obj = Py_None;
    if (!PyArg_ParseTuple(args, "Oy*|O", &harg, &data, &ident_obj))
        return NULL;
    void *sock = handle_of(harg);
    int err = 0;
    if (sock == NULL) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (ident_obj != Py_None) {
        if (PyObject_GetBuffer(ident_obj, &ident, PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&data);
            return NULL;
        }
        while (z_send(sock, ident.buf, ident.len, ZMQ_DONTWAIT_ | ZMQ_SNDMORE_) < 0) {
            err = z_errno();
            if (err != EINTR)
                break;
            err = 0;
        }
        PyBuffer_Release(&ident);
    }
    if (err == 0) {
        while (z_send(sock, data.buf, data.len, ZMQ_DONTWAIT_) < 0) {
            err = z_errno();
            if (err != EINTR)
                break;
            err = 0;
        }
    }
    PyBuffer_Release(&data);
    return PyLong_FromLong(err);
}

static PyMethodDef methods[] = {
    {"zmq_bind", zmq_bind_lib, METH_O,
     "zmq_bind(path) -> bool: use the libzmq already loaded from path (by pyzmq) for "
     "the calls below; False if it is not loaded or lacks a symbol."},
    {"zmq_events", zmq_events, METH_O,
     "zmq_events(handle) -> int: ZMQ_EVENTS of the socket at Socket.underlying."},
    {"zmq_recv_all", zmq_recv_all, METH_VARARGS,
     "zmq_recv_all(handle, max_msgs) -> (messages, drained): read up to max_msgs "
     "messages without blocking, each as a list of its parts; drained: EAGAIN was seen."},
    {"zmq_recv_users", zmq_recv_users, METH_VARARGS,
     "zmq_recv_users(handle, max_msgs) -> (messages, drained): as zmq_recv_all, each "
     "message's parts followed by its connection's User-Id (b'' without one)."},
    {"zmq_send", zmq_send_frame, METH_VARARGS,
     "zmq_send(handle, data, ident=None) -> errno: send data (after ident, as a ROUTER "
     "does) without blocking; 0 when sent."},
    {"signal", signal_fd, METH_O,
     "signal(fd): write 1 to the eventfd fd WITHOUT letting the GIL go. For a producer "
     "that goes on working: the woken thread waits for the GIL, so it takes a batch of "
     "messages when it runs, instead of one each time the producer makes a system call."},
    {"hand_off", hand_off, METH_VARARGS,
     "hand_off(signal_fd, wait_fd, timeout_s) -> bool: write 1 to the eventfd signal_fd "
     "(if >= 0), then wait up to timeout_s (< 0: for ever) for the non-blocking eventfd "
     "wait_fd and reset it; True if it was signalled. One call without the GIL."},
    {"wait", spin_wait, METH_VARARGS,
     "wait(epfd, timeout_s, spin_ns[, signal_fds[, check]]) -> [(fd, events)]: "
     "epoll_wait, first spinning up to spin_ns nanoseconds without sleeping, all without "
     "the GIL. The eventfds in the list signal_fds are written first, also without the "
     "GIL, and the list is emptied. Then the sockets in the list check (handles, as "
     "Socket.underlying) are looked at: if any has a message (ZMQ_EVENTS), wait returns "
     "(handle, 0) for each such one at once, without waiting."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_spin", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__spin(void)
{
    return PyModule_Create(&module);
}
