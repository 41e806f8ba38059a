/* Hamming-distance top-k over packed binary codes: the hot loop of Cairn's in-memory vector
 * prefilter. Pure-Python fallback: cairn.core.memory.vindex._topk_numpy (same results).
 *
 * topk(codes, query, words, k) -> bytes of int64 row indices (the k nearest, unordered)
 *   codes: buffer of n*words uint64, query: buffer of words uint64.
 * Two passes: a histogram of distances (0..64*words) finds the cut-off, then the rows under it
 * are collected, so the cost is O(n) with no sort.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static PyObject *topk(PyObject *self, PyObject *args) {
    Py_buffer codes, query;
    Py_ssize_t words, k;
    if (!PyArg_ParseTuple(args, "y*y*nn", &codes, &query, &words, &k)) return NULL;
    PyObject *result = NULL;
    if (words <= 0 || query.len != words * 8 || codes.len % (words * 8) != 0 || k < 0) {
        PyErr_SetString(PyExc_ValueError, "code sizes do not match");
        goto done;
    }
    Py_ssize_t n = codes.len / (words * 8);
    if (k > n) k = n;
    const uint64_t *c = (const uint64_t *)codes.buf, *q = (const uint64_t *)query.buf;
    int maxd = (int)(64 * words);
    uint16_t *dist = malloc(sizeof(uint16_t) * (size_t)(n ? n : 1));
    Py_ssize_t *hist = calloc((size_t)maxd + 1, sizeof(Py_ssize_t));
    int64_t *out = malloc(sizeof(int64_t) * (size_t)(k ? k : 1));
    if (!dist || !hist || !out) { PyErr_NoMemory(); free(dist); free(hist); free(out); goto done; }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int d = 0;
        const uint64_t *row = c + i * words;
        for (Py_ssize_t w = 0; w < words; w++) d += __builtin_popcountll(row[w] ^ q[w]);
        dist[i] = (uint16_t)d;
        hist[d]++;
    }
    int cut = 0;
    Py_ssize_t below = 0;
    while (cut <= maxd && below + hist[cut] < k) below += hist[cut++];
    Py_ssize_t m = 0, ties = k - below;
    for (Py_ssize_t i = 0; i < n && m < k; i++) {
        if (dist[i] < cut) out[m++] = i;
        else if (dist[i] == cut && ties > 0) { out[m++] = i; ties--; }
    }
    Py_END_ALLOW_THREADS
    result = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)(k * 8));
    free(dist); free(hist); free(out);
done:
    PyBuffer_Release(&codes);
    PyBuffer_Release(&query);
    return result;
}

static PyMethodDef methods[] = {
    {"topk", topk, METH_VARARGS, "Row indices of the k codes nearest to the query in Hamming distance."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_hamming", NULL, -1, methods};

PyMODINIT_FUNC PyInit__hamming(void) { return PyModule_Create(&module); }
