/* Thread hand-offs without the GIL, for the transport's I/O thread and its callers.
 *
 * wait():     the I/O thread's epoll_wait, first polling for up to spin_ns when an
 *             answer is expected soon (yielding the CPU between polls, so a thread
 *             runnable here goes first): on a virtual machine a sleeping thread costs
 *             tens of microseconds to wake, more than the wait.
 * hand_off(): signal one eventfd and sleep on another in ONE call without the GIL, so
 *             the thread we wake never finds the GIL held by us and sleeps again.
 *
 * Optional: without a C compiler the transport falls back to select.epoll and os.*.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256

static long long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static PyObject *
spin_wait(PyObject *self, PyObject *args)
{
    int epfd;
    double timeout;
    long long spin_ns;
    if (!PyArg_ParseTuple(args, "idL", &epfd, &timeout, &spin_ns))
        return NULL;
    int ms = timeout < 0 ? -1 : (int)(timeout * 1000.0 + 0.999);
    struct epoll_event evs[MAX_EVENTS];
    int n = 0, err = 0, polled = 0;
    if (epfd < 0) {
        PyErr_Format(PyExc_ValueError, "epfd %d is not a file descriptor", epfd);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    if (spin_ns > 0) {
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
    if (n == 0 && !(polled && ms == 0))
        n = epoll_wait(epfd, evs, MAX_EVENTS, ms);
    if (n < 0)
        err = errno;
    Py_END_ALLOW_THREADS
    if (n < 0) {
        if (err == EINTR)
            return PyList_New(0);
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *out = PyList_New(n);
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

static PyMethodDef methods[] = {
    {"signal", signal_fd, METH_O,
     "signal(fd): write 1 to the eventfd fd WITHOUT letting the GIL go. For a producer "
     "that goes on working: the woken thread waits for the GIL, so it takes a batch of "
     "messages when it runs, instead of one each time the producer makes a system call."},
    {"hand_off", hand_off, METH_VARARGS,
     "hand_off(signal_fd, wait_fd, timeout_s) -> bool: write 1 to the eventfd signal_fd "
     "(if >= 0), then wait up to timeout_s (< 0: for ever) for the non-blocking eventfd "
     "wait_fd and reset it; True if it was signalled. One call without the GIL."},
    {"wait", spin_wait, METH_VARARGS,
     "wait(epfd, timeout_s, spin_ns) -> [(fd, events)]: epoll_wait, first spinning up to "
     "spin_ns nanoseconds without sleeping, all without the GIL."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_spin", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__spin(void)
{
    return PyModule_Create(&module);
}
