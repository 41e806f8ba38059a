/* Weight streaming for flash-aware loading: llama.cpp's eval callback and a prefetch thread.
 *
 * The callback runs inside llama.cpp's graph compute for every node, so it must be cheap and must
 * never block: it asks to observe only each layer's output node ("l_out-N"), and when one is
 * computed it records N and wakes the worker. The worker, a plain pthread that never takes
 * Python's GIL, then drops layer N's streamed pages behind compute (unmapped with MADV_DONTNEED,
 * then dropped from the page cache with POSIX_FADV_DONTNEED where the system has it: reclaim by
 * MADV_PAGEOUT is best effort and skips pages it cannot isolate at once) and asks the kernel to read ahead the layers after
 * the one now computing (MADV_WILLNEED). Units are the layers in compute order, then the output
 * head. The pure-Python fallback in cairn/core/llm/streaming.py does the same with ctypes.
 *
 * Python API (module cairn.core.llm._stream):
 *   start(get_name_address, units, ahead, fd)  units: list of lists of (address, length, file offset);
 *                                              fd: the model file, read-only (for posix_fadvise)
 *   callback_address() -> int              the ggml_backend_sched_eval_callback to install
 *   stop() -> int                          joins the worker; returns the events it handled
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>

typedef const char *(*get_name_fn)(const void *);
typedef struct { uintptr_t addr; size_t len; off_t offset; } span_t;
typedef struct { span_t *spans; Py_ssize_t n; } unit_t;

static get_name_fn get_name = NULL;
static unit_t *units = NULL;
static Py_ssize_t n_units = 0;
static int ahead = 1, fd = -1;
static pthread_t worker;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int pending = -1, running = 0;
static long handled = 0;

static bool eval_callback(void *tensor, bool ask, void *user_data) {
    (void)user_data;
    const char *name = get_name ? get_name(tensor) : NULL;
    if (name == NULL || strncmp(name, "l_out-", 6) != 0)
        return false;  /* not a layer's end: nothing to observe, no split of the graph */
    if (ask)
        return true;
    int layer = atoi(name + 6);
    pthread_mutex_lock(&mu);
    pending = layer;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return true;  /* false would abort the rest of the graph */
}

static void advise(Py_ssize_t u, int advice) {
    if (u < 0 || u >= n_units)
        return;
    for (Py_ssize_t i = 0; i < units[u].n; i++) {
        span_t s = units[u].spans[i];
        madvise((void *)s.addr, s.len, advice);
#ifdef POSIX_FADV_DONTNEED
        if (advice == MADV_DONTNEED && fd >= 0)  /* unmapped now: the page cache may let them go */
            posix_fadvise(fd, s.offset, (off_t)s.len, POSIX_FADV_DONTNEED);
#endif
    }
}

static int last = -1;

/* Layers finish faster than the worker wakes on small models: events coalesce, so drop every
 * layer since the last one handled, then read ahead of the newest. */
static void on_layer_done(int layer) {
    int n_layers = (int)n_units - 1;
    if (n_layers < 1 || layer >= n_layers)
        return;
    int from = (last < 0 || last == layer) ? layer : (last + 1) % n_layers;
    for (int l = from;; l = (l + 1) % n_layers) {
        advise(l, MADV_DONTNEED);
        if (l == 0)
            advise(n_units - 1, MADV_DONTNEED);  /* the output head ran just before layer 0 of this token */
        if (l == layer)
            break;
    }
    last = layer;
    for (int k = 2; k <= 1 + ahead; k++)
        advise((layer + k) % n_units, MADV_WILLNEED);
}

static void *work(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    while (running) {
        while (pending < 0 && running)
            pthread_cond_wait(&cv, &mu);
        int layer = pending;
        pending = -1;
        pthread_mutex_unlock(&mu);
        if (layer >= 0) {
            on_layer_done(layer);
            handled++;
        }
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void free_units(void) {
    for (Py_ssize_t u = 0; u < n_units; u++)
        free(units[u].spans);
    free(units);
    units = NULL;
    n_units = 0;
}

static int read_units(PyObject *list) {
    n_units = PyList_Size(list);
    units = calloc((size_t)(n_units > 0 ? n_units : 1), sizeof(unit_t));
    if (units == NULL)
        return -1;
    for (Py_ssize_t u = 0; u < n_units; u++) {
        PyObject *spans = PyList_GetItem(list, u);
        if (!PyList_Check(spans))
            return -1;
        units[u].n = PyList_Size(spans);
        units[u].spans = calloc((size_t)(units[u].n > 0 ? units[u].n : 1), sizeof(span_t));
        if (units[u].spans == NULL)
            return -1;
        for (Py_ssize_t i = 0; i < units[u].n; i++) {
            unsigned long long addr, len, offset;
            if (!PyArg_ParseTuple(PyList_GetItem(spans, i), "KKK", &addr, &len, &offset))
                return -1;
            units[u].spans[i].addr = (uintptr_t)addr;
            units[u].spans[i].len = (size_t)len;
            units[u].spans[i].offset = (off_t)offset;
        }
    }
    return 0;
}

static PyObject *start(PyObject *self, PyObject *args) {
    unsigned long long name_addr;
    PyObject *list;
    int want_ahead, want_fd;
    if (!PyArg_ParseTuple(args, "KO!ii", &name_addr, &PyList_Type, &list, &want_ahead, &want_fd))
        return NULL;
    if (running) {
        PyErr_SetString(PyExc_RuntimeError, "a stream is already running in this process");
        return NULL;
    }
    if (read_units(list) != 0) {
        free_units();
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "units must be lists of (address, length, offset) tuples");
        return NULL;
    }
    get_name = (get_name_fn)(uintptr_t)name_addr;
    ahead = want_ahead < 1 ? 1 : want_ahead;
    fd = want_fd;
    pending = -1;
    last = -1;
    handled = 0;
    running = 1;
    if (pthread_create(&worker, NULL, work, NULL) != 0) {
        running = 0;
        free_units();
        PyErr_SetString(PyExc_OSError, "cannot start the prefetch thread");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *stop(PyObject *self, PyObject *args) {
    if (!running)
        return PyLong_FromLong(0);
    pthread_mutex_lock(&mu);
    running = 0;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(worker, NULL);
    Py_END_ALLOW_THREADS
    free_units();
    return PyLong_FromLong(handled);
}

static PyObject *callback_address(PyObject *self, PyObject *args) {
    return PyLong_FromUnsignedLongLong((unsigned long long)(uintptr_t)&eval_callback);
}

static PyMethodDef methods[] = {
    {"start", start, METH_VARARGS, "start(get_name_address, units, ahead, fd): start the prefetch thread"},
    {"stop", stop, METH_NOARGS, "stop() -> events handled"},
    {"callback_address", callback_address, METH_NOARGS, "the eval callback's address"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_stream", "Weight streaming for flash-aware loading.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__stream(void) { return PyModule_Create(&module); }
