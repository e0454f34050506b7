/* Time loops of rnnlab's fused recurrent cells (RNN tanh, GRU, LSTM) on the CPU, forward and backward.
 *
 * The same maths as the Python loops in python_loops.py (read that first), but reading and writing the
 * caller's time-major tensors [T, B, D, X] in place: the input projections of all steps are one torch
 * matrix product before the loop (without biases: the loop adds them, which costs nothing there), the
 * weight gradients torch matrix products after it (the loop sums the bias gradients), and what is left
 * here is what torch can only do as thousands of tiny calls: per step, one small matrix product with W_hh
 * over the rows still running, and the element-wise update of the gates, fused into one pass.
 *
 * Rows are independent through time, so the work is split into (direction, block of rows) items that
 * run in parallel with no synchronisation between steps, on torch's own OpenMP pool (the caller hands
 * over GOMP_parallel: no second thread pool competes for the cores, and the pool's threads already
 * carry torch's flush-subnormals setting). Each row computes the same way whatever the split, so results
 * do not depend on the number of threads.
 *
 * Beside the loops, one more pass torch makes slowly on the CPU: the embedding lookup's weight gradient
 * (rnnlab_embedding_backward, used by models/embedding.py), torch's own loop taking ~4x longer at the
 * tutorial's shapes.
 *
 * Vectors are GCC/Clang vector extensions of 16 floats, which the compiler maps to AVX-512, AVX2 or NEON;
 * under bf16 autocast on CPUs with AMX the per-step products run on AMX tiles instead (matmul_amx).
 * tanh is a rational approximation and sigmoid(x) = (1 + tanh(x / 2)) / 2, within a few 1e-7 (the tests
 * hold outputs and gradients to nn.RNN/GRU/LSTM within 1e-5).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* AMX: x86-64 Linux (which grants tiles to a process on request), compilers with its intrinsics */
#if defined(__x86_64__) && defined(__linux__) && (defined(__clang__) || __GNUC__ >= 11)
#define HAVE_AMX 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#elif defined(__AVX512F__)
#include <immintrin.h>
#endif

typedef float vf __attribute__((vector_size(64), aligned(4), may_alias));
typedef int vi __attribute__((vector_size(64), aligned(4), may_alias));
typedef unsigned vu __attribute__((vector_size(64), aligned(4), may_alias));
typedef uint16_t vh __attribute__((vector_size(32), aligned(2), may_alias)); /* 16 bf16 */
#define LANES 16
#if defined(__AVX512F__)
#define TILE_ROWS 8 /* 16 accumulators of the 32 vector registers */
#else
#define TILE_ROWS 2 /* a vector of 16 floats takes 2-4 registers: keep the accumulators in the 16 */
#endif
#define TILE_COLS 32

static inline vf splat(float a) { return (vf){a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a}; }
static inline vf load(const float *p) { return *(const vf *)p; }
static inline void store(float *p, vf v) { *(vf *)p = v; }
static inline vf load_n(const float *p, int n) {
    vf v = splat(0.0f);
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}
static inline void store_n(float *p, vf v, int n) { memcpy(p, &v, (size_t)n * sizeof(float)); }
static inline vf select_v(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }
/* x limited to [-limit, limit]; NaN stays NaN (comparisons with it are false), so a diverging model's NaN
 * reaches the loss, as with torch's kernels */
static inline vf clamp_v(vf x, float limit) {
    x = select_v(x < -limit, splat(-limit), x);
    return select_v(x > limit, splat(limit), x);
}

/* 1 / x: on AVX-512 the 14-bit hardware estimate and one Newton step (a division takes several times
 * longer, and every gate of every unit needs one) */
static inline vf recip_v(vf x) {
#if defined(__AVX512F__)
    vf r = (vf)_mm512_rcp14_ps((__m512)x);
    return r * (2.0f - x * r);
#else
    return 1.0f / x;
#endif
}

/* tanh as a rational function (Eigen's fast tanh: odd degree-13 numerator, even degree-6 denominator) on
 * x clamped to +-7.9, where it rounds to +-1 within a few 1e-7; fewer operations than exp-based forms. */
static inline vf tanh_v(vf x) {
    x = clamp_v(x, 7.90531110763549805f);
    vf z = x * x;
    vf p = splat(-2.76076847742355e-16f);
    p = p * z + 2.00018790482477e-13f;
    p = p * z - 8.60467152213735e-11f;
    p = p * z + 5.12229709037114e-08f;
    p = p * z + 1.48572235717979e-05f;
    p = p * z + 6.37261928875436e-04f;
    p = p * z + 4.89352455891786e-03f;
    vf q = splat(1.19825839466702e-06f);
    q = q * z + 1.18534705686654e-04f;
    q = q * z + 2.26843463243900e-03f;
    q = q * z + 4.89352518554385e-03f;
    return x * p * recip_v(q);
}

static inline vf sigmoid_v(vf x) { return 0.5f + 0.5f * tanh_v(0.5f * x); }

/* out[i][:n] (+)= sum_k a[i][k] m[k, :n] for i < rows; m is [k, ldm] with ldm a multiple of TILE_COLS. */
static void matmul(int rows, int k, int n, const float *const *a, const float *m, int ldm, float *const *out,
                   int accumulate) {
    for (int col = 0; col < n; col += TILE_COLS) {
        int width = n - col < TILE_COLS ? n - col : TILE_COLS;
        for (int row = 0; row < rows; row += TILE_ROWS) {
            int height = rows - row < TILE_ROWS ? rows - row : TILE_ROWS;
            const float *ar[TILE_ROWS];
            vf acc[TILE_ROWS][2];
            for (int i = 0; i < TILE_ROWS; i++) {
                int r = row + (i < height ? i : height - 1);
                ar[i] = a[r];
                const float *o = out[r] + col;
                if (!accumulate || i >= height) {
                    acc[i][0] = acc[i][1] = splat(0.0f);
                } else if (width == TILE_COLS) {
                    acc[i][0] = load(o);
                    acc[i][1] = load(o + LANES);
                } else {
                    acc[i][0] = load_n(o, width < LANES ? width : LANES);
                    acc[i][1] = width > LANES ? load_n(o + LANES, width - LANES) : splat(0.0f);
                }
            }
            const float *mk = m + col;
            for (int j = 0; j < k; j++, mk += ldm) {
                vf m0 = load(mk), m1 = load(mk + LANES);
                for (int i = 0; i < TILE_ROWS; i++) {
                    vf b = splat(ar[i][j]);
                    acc[i][0] += b * m0;
                    acc[i][1] += b * m1;
                }
            }
            for (int i = 0; i < height; i++) {
                float *o = out[row + i] + col;
                if (width == TILE_COLS) {
                    store(o, acc[i][0]);
                    store(o + LANES, acc[i][1]);
                } else {
                    store_n(o, acc[i][0], width < LANES ? width : LANES);
                    if (width > LANES) store_n(o + LANES, acc[i][1], width - LANES);
                }
            }
        }
    }
}

/* ---- each thread's scratch memory ----
 *
 * The row pointers of a block's steps, the bf16 backward's step gradients and the AMX operands: kept for the
 * thread's life (every pass reuses them, growing them if needed) and freed by a thread-exit destructor. As
 * plain __thread buffers they leaked 0.2-0.4 MB per thread (a server that starts a thread per request grew
 * by 66 MB over 300 of them); the row pointers, as arrays on the stack, overflowed its 8 MB past ~170k rows
 * a block. */
enum { ROWS, STEP_GRADS, AMX_A, AMX_C, BUFFERS };
typedef struct {
    void *p[BUFFERS];
    size_t size[BUFFERS];
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_made;

static void free_scratch(void *arg) {
    scratch *t = arg;
    for (int i = 0; i < BUFFERS; i++) free(t->p[i]);
    free(t);
}
static void make_scratch_key(void) { scratch_key_made = pthread_key_create(&scratch_key, free_scratch) == 0; }

/* The calling thread's scratch, or NULL if memory ran out. */
static scratch *thread_scratch(void) {
    pthread_once(&scratch_once, make_scratch_key);
    if (!scratch_key_made) return NULL;
    scratch *t = pthread_getspecific(scratch_key);
    if (!t && (t = calloc(1, sizeof *t)) && pthread_setspecific(scratch_key, t)) {
        free(t);
        t = NULL;
    }
    return t;
}

/* p, or a 64-byte aligned buffer in its place when `need` bytes exceed its *size (the contents are not kept). */
static void *grow_buffer(void *p, size_t *size, size_t need) {
    if (need <= *size) return p;
    free(p);
    need = (need + 63) / 64 * 64; /* aligned_alloc wants a multiple of the alignment */
    p = aligned_alloc(64, need);
    *size = p ? need : 0;
    return p;
}

/* Scratch buffer `which` of at least `need` bytes: 0, or -1 if memory ran out. */
static int reserve(scratch *t, int which, size_t need) {
    t->p[which] = grow_buffer(t->p[which], &t->size[which], need);
    return t->p[which] || !need ? 0 : -1;
}

typedef struct job job;
struct job {
    int batch, steps, directions, hidden, gate_size; /* gate_size = gates * hidden */
    const int *lengths, *order; /* real steps per row; rows by length, longest first */
    float *gates, *gh, *out, *cells, *tanh_c; /* forward buffers (and what backward reads) */
    float *g, *grads, *carry;                 /* backward buffers; carry: LSTM dL/dc per (direction, row) */
    const float *h0, *c0;                     /* forward: [D, B, H] initial states, or NULL for zeros */
    float *dh0;                               /* backward: [D, B, H] zeros that receive dL/dh0, or NULL */
    int fresh;                                /* backward: g holds only the last states' gradients (the outputs
                                                 got none), so a step writes dL/dh_prev instead of adding to it */
    const float *bias;                        /* forward: [D, gate_size] input-side biases, added every step */
    const float *b_hn;                        /* GRU: [D, H] bias of the n gate's hidden side */
    const float *zeros;                       /* H zeros: the state before the first step without h0 / c0 */
    float *m;                                 /* per direction [k, ldm]: W_hh^T forward, W_hh backward */
    int k, n, ldm;
    const uint16_t *proj_low;                 /* forward: bf16 input projections, widened into gates per step */
    uint16_t *out_low;                        /* forward, with proj_low: the outputs again, in bf16 */
    uint16_t *grads_low;                      /* backward: the gate gradients in bf16 (then `grads` unused) */
    float *sums;                              /* backward: [D, B, width of grads] sums of the gate gradients */
    int low;                                  /* per-step products in bf16 on AMX tiles (then m unused) */
    uint16_t *m_low;                          /* per direction [kp / 2, np, 2]: m packed for AMX */
    int kp, np, failed;
    int blocks, items, serial;
    void (*body)(const job *, scratch *, int d, int p0, int p1);
};

/* Buffers are time-major [T, B, D, width], so the rows of one step lie together (batch-major rows lie a
 * whole sequence apart: more streams than the hardware prefetcher follows, and the backward pass took half
 * as long again). Step s of direction d reads time s (forward) or length - 1 - s (backward direction: each
 * row read back from its last real step). */
static size_t offset(const job *j, int width, int b, int d, int s) {
    int t = d == 0 ? s : j->lengths[b] - 1 - s;
    return (((size_t)t * j->batch + b) * j->directions + d) * width;
}
static float *at(const job *j, float *buffer, int width, int b, int d, int s) {
    return buffer + offset(j, width, b, d, s);
}

/* rows[i] = the row of sorted position p0 + i at step s, for i < n. */
static void rows_at(const job *j, float *buffer, int width, int d, int s, int p0, int n, float **rows) {
    for (int i = 0; i < n; i++) rows[i] = at(j, buffer, width, j->order[p0 + i], d, s);
}

static const float *weights(const job *j, int d) { return j->m + (size_t)d * j->k * j->ldm; }

/* Rows of [p0, p1) still running at step s, from the count at step s - 1 (forward) or s + 1 (backward). */
static int shrink(const job *j, int n, int p0, int s) {
    while (n > 0 && j->lengths[j->order[p0 + n - 1]] <= s) n--;
    return n;
}
static int grow(const job *j, int n, int p0, int p1, int s) {
    while (p0 + n < p1 && j->lengths[j->order[p0 + n]] > s) n++;
    return n;
}

/* rows[i] = the row before step s of sorted position p0 + i: at step s - 1 in `buffer`, or at step 0 in
 * `initial` ([D, B, width]). 0 where there is none (step 0 without initial rows: the state is zero). */
static int previous_rows(const job *j, float *buffer, const float *initial, int width, int d, int s, int p0, int n,
                         float **rows) {
    if (s > 0) {
        rows_at(j, buffer, width, d, s - 1, p0, n, rows);
        return 1;
    }
    if (!initial) return 0;
    for (int i = 0; i < n; i++) rows[i] = (float *)initial + ((size_t)d * j->batch + j->order[p0 + i]) * width;
    return 1;
}

/* One vector's worth of columns [c, c + w) of a row: full loads when w == LANES. */
#define LD(p) (w == LANES ? load(p) : load_n(p, w))
#define ST(p, v) (w == LANES ? store(p, v) : store_n(p, v, w))
#define COLUMNS(hid) for (int c = 0, w = (hid) < LANES ? (hid) : LANES; c < (hid); c += LANES, w = (hid) - c < LANES ? (hid) - c : LANES)

/* bf16 <-> fp32 for w <= LANES values: widening is exact; narrowing rounds to nearest even, NaN stays NaN. */
static inline vf widen_v(const uint16_t *p, int w) {
    vh h = {0};
    if (w == LANES) h = *(const vh *)p;
    else memcpy(&h, p, (size_t)w * sizeof(uint16_t));
    return (vf)(__builtin_convertvector(h, vu) << 16);
}
static inline void narrow_v(uint16_t *p, vf v, int w) {
    vu u = (vu)v, nan = (u & 0x7fffffffu) > 0x7f800000u;
    vu rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    vh h = __builtin_convertvector((rounded & ~nan) | (((u >> 16) | 0x40u) & nan), vh);
    if (w == LANES) *(vh *)p = h;
    else memcpy(p, &h, (size_t)w * sizeof(uint16_t));
}

/* Forward, bf16 input projections: the gate rows of step s start as those rows' projections, widened. */
static void widen_rows(const job *j, int d, int s, int p0, int n, float *const *gate) {
    for (int i = 0; i < n; i++) {
        const uint16_t *src = j->proj_low + offset(j, j->gate_size, j->order[p0 + i], d, s);
        COLUMNS(j->gate_size) ST(gate[i] + c, widen_v(src + c, w));
    }
}

/* Forward, bf16 big products: this step's outputs again in bf16, the operand of the recurrent weight
 * gradient's product (no cast pass over all the outputs before it). */
static void narrow_outputs(const job *j, int d, int s, int p0, int n, float *const *h) {
    if (!j->out_low) return;
    for (int i = 0; i < n; i++) {
        uint16_t *dst = j->out_low + offset(j, j->hidden, j->order[p0 + i], d, s);
        COLUMNS(j->hidden) narrow_v(dst + c, LD(h[i] + c), w);
    }
}

/* Backward: where this step's gate gradients go: their rows of `grads`, or with grads_low this thread's
 * scratch rows (read back only within the step), narrowed into grads_low by sum_rows. */
static void grad_rows(const job *j, scratch *t, int width, int d, int s, int p0, int n, float **rows) {
    if (!j->grads_low) rows_at(j, j->grads, width, d, s, p0, n, rows);
    else for (int i = 0; i < n; i++) rows[i] = (float *)t->p[STEP_GRADS] + (size_t)i * width;
}

/* Backward, after a step's gate gradients: add them to their rows' sums (the bias gradients, summed over
 * steps per row here and over rows by the caller), and with grads_low store them there in bf16. */
static void sum_rows(const job *j, int width, int d, int s, int p0, int n, float *const *grad) {
    for (int i = 0; i < n; i++) {
        int b = j->order[p0 + i];
        float *sum = j->sums + ((size_t)d * j->batch + b) * width;
        uint16_t *low = j->grads_low ? j->grads_low + offset(j, width, b, d, s) : NULL;
        COLUMNS(width) {
            vf v = LD(grad[i] + c);
            ST(sum + c, LD(sum + c) + v);
            if (low) narrow_v(low + c, v, w);
        }
    }
}

/* ---- the per-step product in bf16 on AMX tiles (CPU bf16 autocast, on CPUs with AMX) ----
 *
 * Under bf16 autocast the per-step product may round its operands to bf16, as oneDNN's bf16 LSTM does
 * (sums stay fp32, and so do the states and every element-wise update). AMX multiplies 16x32 by 32x16 bf16
 * tiles in a few cycles, several times faster than the fp32 vector loop above. W is packed once per pass
 * ("VNNI": pairs of its rows interleaved), each step's rows of `a` are rounded into a zero-padded buffer;
 * products come back through an fp32 buffer and are added to (or written into) the caller's rows. */

#define AMX_BLOCK 32 /* rows, columns and k are padded to multiples of this (2 x 2 tiles of 16, k tiles of 32) */

static int pad(int x) { return (x + AMX_BLOCK - 1) / AMX_BLOCK * AMX_BLOCK; }

static uint16_t to_bf16(float x) { /* round to nearest even; NaN stays NaN */
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

#if HAVE_AMX
#define AMX_TARGET __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bf16")))

/* Whether AMX-BF16 runs here: the CPU has it (and AVX512-BF16) and Linux lets this process use tiles. */
int rnnlab_amx_init(void) {
    unsigned a, b, c, d, a1, b1, c1, d1;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) return 0;
    int has = (d >> 22 & 1) && (d >> 24 & 1) && (a1 >> 5 & 1); /* AMX-BF16, AMX-TILE, AVX512-BF16 */
    return has && syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
}

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* out[i][:n] (+)= sum_k a[i][k] W[k, :n] for i < rows, with a and W rounded to bf16, on AMX tiles; the
 * thread's scratch holds the rounded rows [rows, kp] (AMX_A) and their products [rows, np] (AMX_C). */
AMX_TARGET static void matmul_amx(scratch *t, int rows, int k, int n, const float *const *a, const uint16_t *m, int kp,
                                  int np, float *const *out, int accumulate) {
    uint16_t *amx_a = t->p[AMX_A];
    float *amx_c = t->p[AMX_C];
    int rp = pad(rows);
    for (int i = 0; i < rp; i++) {
        uint16_t *dst = amx_a + (size_t)i * kp;
        int done = 0;
        if (i < rows) {
            for (int c = 0; c < k; c += LANES) {
                int w = k - c < LANES ? k - c : LANES;
                __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << w) - 1), a[i] + c);
                _mm256_storeu_si256((__m256i *)(dst + c), (__m256i)_mm512_cvtneps_pbh(v));
            }
            done = (k + LANES - 1) / LANES * LANES; /* the last store wrote zeros past k */
        }
        memset(dst + done, 0, (size_t)(kp - done) * sizeof(uint16_t));
    }
    size_t a_stride = (size_t)kp * 2, m_stride = (size_t)np * 4, c_stride = (size_t)np * 4;
    for (int r = 0; r < rp; r += 32)
        for (int col = 0; col < np; col += 32) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int kk = 0; kk < kp; kk += 32) {
                const uint16_t *ar = amx_a + (size_t)r * kp + kk, *mk = m + ((size_t)kk / 2 * np + col) * 2;
                _tile_loadd(4, ar, a_stride);
                _tile_loadd(5, ar + 16 * (size_t)kp, a_stride);
                _tile_loadd(6, mk, m_stride);
                _tile_loadd(7, mk + 32, m_stride);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            float *cr = amx_c + (size_t)r * np + col;
            _tile_stored(0, cr, c_stride);
            _tile_stored(1, cr + 16, c_stride);
            _tile_stored(2, cr + 16 * (size_t)np, c_stride);
            _tile_stored(3, cr + 16 * (size_t)np + 16, c_stride);
        }
    for (int i = 0; i < rows; i++) {
        const float *ci = amx_c + (size_t)i * np;
        COLUMNS(n) {
            vf sum = LD(ci + c);
            if (accumulate) sum += LD(out[i] + c);
            ST(out[i] + c, sum);
        }
    }
}

/* Tiles 0-7 as matmul_amx uses them (16 rows of 64 bytes), set once per pass in each thread: nothing else
 * (oneDNN) runs on the thread until amx_stop. */
AMX_TARGET static void amx_start(void) {
    tile_config cfg = {0};
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    _tile_loadconfig(&cfg);
}
AMX_TARGET static void amx_stop(void) { _tile_release(); }

/* This thread's buffers for products of up to `rows` rows: 0, or -1 if memory ran out. */
static int amx_buffers(scratch *t, int rows, int kp, int np) {
    if (reserve(t, AMX_A, (size_t)pad(rows) * kp * sizeof(uint16_t))) return -1;
    return reserve(t, AMX_C, (size_t)pad(rows) * np * sizeof(float));
}
#else /* never called: rnnlab_amx_init says no, and the caller then asks for fp32 products */
int rnnlab_amx_init(void) { return 0; }
static void matmul_amx(scratch *t, int rows, int k, int n, const float *const *a, const uint16_t *m, int kp, int np,
                       float *const *out, int accumulate) {}
static int amx_buffers(scratch *t, int rows, int kp, int np) { return -1; }
static void amx_start(void) {}
static void amx_stop(void) {}
#endif

/* out rows (+)= a rows x this direction's m: the per-step product, in fp32, or in bf16 on AMX (j->low). */
static void product(const job *j, scratch *t, int d, int rows, float *const *a, float *const *out, int accumulate) {
    if (j->low)
        matmul_amx(t, rows, j->k, j->n, (const float *const *)a, j->m_low + (size_t)d * j->kp * j->np, j->kp, j->np,
                   out, accumulate);
    else
        matmul(rows, j->k, j->n, (const float *const *)a, weights(j, d), j->ldm, out, accumulate);
}

/* Array `index` < ROW_ARRAYS of the block's row pointers (p1 - p0 of them) in the thread's scratch. */
#define ROW_ARRAYS 6 /* the most a body uses */
static float **row_arrays(scratch *t, int p0, int p1, int index) {
    return (float **)t->p[ROWS] + (size_t)index * (p1 - p0);
}

static void rnn_forward(const job *j, scratch *t, int d, int p0, int p1) {
    int hid = j->hidden, n = p1 - p0;
    const float *bias = j->bias + (size_t)d * hid;
    float **pre = row_arrays(t, p0, p1, 0), **h = row_arrays(t, p0, p1, 1), **h_prev = row_arrays(t, p0, p1, 2);
    for (int s = 0; s < j->steps && (n = shrink(j, n, p0, s)) > 0; s++) {
        rows_at(j, j->gates, hid, d, s, p0, n, pre);
        if (j->proj_low) widen_rows(j, d, s, p0, n, pre);
        rows_at(j, j->out, hid, d, s, p0, n, h);
        if (previous_rows(j, j->out, j->h0, hid, d, s, p0, n, h_prev)) product(j, t, d, n, h_prev, pre, 1);
        for (int i = 0; i < n; i++) COLUMNS(hid) ST(h[i] + c, tanh_v(LD(pre[i] + c) + LD(bias + c)));
        narrow_outputs(j, d, s, p0, n, h);
    }
}

static void rnn_backward(const job *j, scratch *t, int d, int p0, int p1) {
    int hid = j->hidden, n = 0;
    float **dh = row_arrays(t, p0, p1, 0), **h = row_arrays(t, p0, p1, 1), **dpre = row_arrays(t, p0, p1, 2);
    float **dh_prev = row_arrays(t, p0, p1, 3);
    for (int s = j->steps - 1; s >= 0; s--) {
        if ((n = grow(j, n, p0, p1, s)) == 0) continue;
        rows_at(j, j->g, hid, d, s, p0, n, dh);
        rows_at(j, j->out, hid, d, s, p0, n, h);
        grad_rows(j, t, hid, d, s, p0, n, dpre);
        for (int i = 0; i < n; i++) COLUMNS(hid) {
            vf hv = LD(h[i] + c);
            ST(dpre[i] + c, LD(dh[i] + c) * (1.0f - hv * hv));
        }
        sum_rows(j, hid, d, s, p0, n, dpre);
        if (previous_rows(j, j->g, j->dh0, hid, d, s, p0, n, dh_prev)) product(j, t, d, n, dpre, dh_prev, !j->fresh);
    }
}

/* GRU: gates row [r z n] (input side pre-activations, overwritten by the activations); gh row [n r z]
 * (W_hh h, plus b_hn in the n block); grads row [dn_h dr dz dn_i]. */
static void gru_forward(const job *j, scratch *t, int d, int p0, int p1) {
    int hid = j->hidden, g3 = 3 * hid, n = p1 - p0;
    const float *b_hn = j->b_hn + (size_t)d * hid, *bias = j->bias + (size_t)d * g3;
    float **gate = row_arrays(t, p0, p1, 0), **gh = row_arrays(t, p0, p1, 1), **h = row_arrays(t, p0, p1, 2);
    float **h_prev = row_arrays(t, p0, p1, 3);
    for (int s = 0; s < j->steps && (n = shrink(j, n, p0, s)) > 0; s++) {
        rows_at(j, j->gates, g3, d, s, p0, n, gate);
        if (j->proj_low) widen_rows(j, d, s, p0, n, gate);
        rows_at(j, j->gh, g3, d, s, p0, n, gh);
        rows_at(j, j->out, hid, d, s, p0, n, h);
        if (previous_rows(j, j->out, j->h0, hid, d, s, p0, n, h_prev)) {
            product(j, t, d, n, h_prev, gh, 0);
        } else {
            for (int i = 0; i < n; i++) {
                memset(gh[i], 0, (size_t)g3 * sizeof(float));
                h_prev[i] = (float *)j->zeros;
            }
        }
        for (int i = 0; i < n; i++) COLUMNS(hid) {
            float *gi = gate[i], *gg = gh[i];
            vf ghn = LD(gg + c) + LD(b_hn + c);
            vf r = sigmoid_v(LD(gi + c) + LD(bias + c) + LD(gg + hid + c));
            vf z = sigmoid_v(LD(gi + hid + c) + LD(bias + hid + c) + LD(gg + 2 * hid + c));
            vf nv = tanh_v(LD(gi + 2 * hid + c) + LD(bias + 2 * hid + c) + r * ghn);
            ST(gg + c, ghn);
            ST(gi + c, r);
            ST(gi + hid + c, z);
            ST(gi + 2 * hid + c, nv);
            ST(h[i] + c, nv + z * (LD(h_prev[i] + c) - nv));
        }
        narrow_outputs(j, d, s, p0, n, h);
    }
}

static void gru_backward(const job *j, scratch *t, int d, int p0, int p1) {
    int hid = j->hidden, g3 = 3 * hid, g4 = 4 * hid, n = 0;
    float **gate = row_arrays(t, p0, p1, 0), **gh = row_arrays(t, p0, p1, 1), **h = row_arrays(t, p0, p1, 2);
    float **dh = row_arrays(t, p0, p1, 3), **grad = row_arrays(t, p0, p1, 4), **dh_prev = row_arrays(t, p0, p1, 5);
    for (int s = j->steps - 1; s >= 0; s--) {
        if ((n = grow(j, n, p0, p1, s)) == 0) continue;
        rows_at(j, j->gates, g3, d, s, p0, n, gate);
        rows_at(j, j->gh, g3, d, s, p0, n, gh);
        rows_at(j, j->out, hid, d, s, p0, n, h);
        rows_at(j, j->g, hid, d, s, p0, n, dh);
        grad_rows(j, t, g4, d, s, p0, n, grad);
        int prev = previous_rows(j, j->g, j->dh0, hid, d, s, p0, n, dh_prev);
        for (int i = 0; i < n; i++) COLUMNS(hid) {
            const float *gi = gate[i];
            float *gr = grad[i];
            vf r = LD(gi + c), z = LD(gi + hid + c), nv = LD(gi + 2 * hid + c), dhv = LD(dh[i] + c);
            vf dn_i = dhv * (1.0f - z) * (1.0f - nv * nv);
            vf dn_h = dn_i * r;
            ST(gr + c, dn_h);
            ST(gr + hid + c, dn_h * LD(gh[i] + c) * (1.0f - r));
            ST(gr + 2 * hid + c, dhv * (LD(h[i] + c) - nv) * (1.0f - z));
            ST(gr + 3 * hid + c, dn_i);
            if (prev) ST(dh_prev[i] + c, (j->fresh ? splat(0.0f) : LD(dh_prev[i] + c)) + dhv * z);
        }
        sum_rows(j, g4, d, s, p0, n, grad);
        if (prev) product(j, t, d, n, grad, dh_prev, 1);
    }
}

/* LSTM: gates row [o i f g] (pre-activations, overwritten by the activations); grads row likewise. */
static void lstm_forward(const job *j, scratch *t, int d, int p0, int p1) {
    int hid = j->hidden, g4 = 4 * hid, n = p1 - p0;
    const float *b = j->bias + (size_t)d * g4;
    float **gate = row_arrays(t, p0, p1, 0), **h = row_arrays(t, p0, p1, 1), **h_prev = row_arrays(t, p0, p1, 2);
    float **cell = row_arrays(t, p0, p1, 3), **c_prev = row_arrays(t, p0, p1, 4), **tc = row_arrays(t, p0, p1, 5);
    for (int s = 0; s < j->steps && (n = shrink(j, n, p0, s)) > 0; s++) {
        rows_at(j, j->gates, g4, d, s, p0, n, gate);
        if (j->proj_low) widen_rows(j, d, s, p0, n, gate);
        rows_at(j, j->out, hid, d, s, p0, n, h);
        rows_at(j, j->cells, hid, d, s, p0, n, cell);
        rows_at(j, j->tanh_c, hid, d, s, p0, n, tc);
        if (previous_rows(j, j->out, j->h0, hid, d, s, p0, n, h_prev)) product(j, t, d, n, h_prev, gate, 1);
        if (!previous_rows(j, j->cells, j->c0, hid, d, s, p0, n, c_prev))
            for (int i = 0; i < n; i++) c_prev[i] = (float *)j->zeros;
        for (int i = 0; i < n; i++) COLUMNS(hid) {
            float *gi = gate[i];
            vf o = sigmoid_v(LD(gi + c) + LD(b + c)), in = sigmoid_v(LD(gi + hid + c) + LD(b + hid + c));
            vf f = sigmoid_v(LD(gi + 2 * hid + c) + LD(b + 2 * hid + c));
            vf g = tanh_v(LD(gi + 3 * hid + c) + LD(b + 3 * hid + c));
            vf cv = f * LD(c_prev[i] + c) + in * g, tcv = tanh_v(cv);
            ST(gi + c, o);
            ST(gi + hid + c, in);
            ST(gi + 2 * hid + c, f);
            ST(gi + 3 * hid + c, g);
            ST(cell[i] + c, cv);
            ST(tc[i] + c, tcv);
            ST(h[i] + c, o * tcv);
        }
        narrow_outputs(j, d, s, p0, n, h);
    }
}

static void lstm_backward(const job *j, scratch *t, int d, int p0, int p1) {
    int hid = j->hidden, g4 = 4 * hid, n = 0;
    float **gate = row_arrays(t, p0, p1, 0), **tc = row_arrays(t, p0, p1, 1), **c_prev = row_arrays(t, p0, p1, 2);
    float **dh = row_arrays(t, p0, p1, 3), **grad = row_arrays(t, p0, p1, 4), **dh_prev = row_arrays(t, p0, p1, 5);
    for (int s = j->steps - 1; s >= 0; s--) {
        if ((n = grow(j, n, p0, p1, s)) == 0) continue;
        rows_at(j, j->gates, g4, d, s, p0, n, gate);
        rows_at(j, j->tanh_c, hid, d, s, p0, n, tc);
        rows_at(j, j->g, hid, d, s, p0, n, dh);
        grad_rows(j, t, g4, d, s, p0, n, grad);
        if (!previous_rows(j, j->cells, j->c0, hid, d, s, p0, n, c_prev))
            for (int i = 0; i < n; i++) c_prev[i] = (float *)j->zeros;
        int prev = previous_rows(j, j->g, j->dh0, hid, d, s, p0, n, dh_prev);
        for (int i = 0; i < n; i++) {
            float *carry = j->carry + ((size_t)d * j->batch + j->order[p0 + i]) * hid, *gr = grad[i];
            const float *gi = gate[i];
            COLUMNS(hid) {
                vf o = LD(gi + c), in = LD(gi + hid + c), f = LD(gi + 2 * hid + c), g = LD(gi + 3 * hid + c);
                vf tcv = LD(tc[i] + c), dhv = LD(dh[i] + c);
                vf dcv = LD(carry + c) + dhv * o * (1.0f - tcv * tcv);
                ST(gr + c, dhv * tcv * o * (1.0f - o));
                ST(gr + hid + c, dcv * g * in * (1.0f - in));
                ST(gr + 2 * hid + c, dcv * LD(c_prev[i] + c) * f * (1.0f - f));
                ST(gr + 3 * hid + c, dcv * in * (1.0f - g * g));
                ST(carry + c, dcv * f);
            }
        }
        sum_rows(j, g4, d, s, p0, n, grad);
        if (prev) product(j, t, d, n, grad, dh_prev, !j->fresh);
    }
}

/* ---- running the items on torch's OpenMP pool ---- */

typedef void (*parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
typedef int (*omp_int_fn)(void);
static parallel_fn gomp_parallel;
static omp_int_fn omp_thread_num, omp_num_threads;

/* The OpenMP runtime torch loaded (GOMP_parallel, omp_get_thread_num, omp_get_num_threads), or NULLs. */
void rnnlab_set_openmp(void *parallel, void *thread_num, void *num_threads) {
    gomp_parallel = (parallel_fn)parallel;
    omp_thread_num = (omp_int_fn)thread_num;
    omp_num_threads = (omp_int_fn)num_threads;
}

/* Whether work can be split over torch's pool: the caller handed its OpenMP runtime over. */
static int pool_ready(void) { return gomp_parallel && omp_thread_num && omp_num_threads; }

static void run_items(void *arg) {
    job *j = arg;
    int me = j->serial ? 0 : omp_thread_num(), team = j->serial ? 1 : omp_num_threads();
    int largest = (j->batch + j->blocks - 1) / j->blocks; /* rows of the largest block */
    scratch *t = thread_scratch();
    if (!t || reserve(t, ROWS, (size_t)ROW_ARRAYS * largest * sizeof(float *)) ||
        (j->low && amx_buffers(t, largest, j->kp, j->np)) ||
        (j->grads_low && reserve(t, STEP_GRADS, (size_t)largest * 4 * j->hidden * sizeof(float)))) { /* <= 4 per unit */
        j->failed = 1;
        return;
    }
    if (j->low) amx_start();
    for (int item = me; item < j->items; item += team) {
        int d = item / j->blocks, block = item % j->blocks;
        /* interleaved blocks would balance sorted lengths better; contiguous ones keep tiles full */
        j->body(j, t, d, block * j->batch / j->blocks, (block + 1) * j->batch / j->blocks);
    }
    if (j->low) amx_stop();
}

/* m = per direction [k, ldm] copy of w [D, rows, cols]: transposed (k = cols) or not (k = rows). */
static int prepare_weights(job *j, const float *w, int rows, int cols, int transpose) {
    j->k = transpose ? cols : rows;
    j->n = transpose ? rows : cols;
    j->ldm = (j->n + TILE_COLS - 1) / TILE_COLS * TILE_COLS;
    j->m = calloc((size_t)j->directions * j->k * j->ldm, sizeof(float));
    if (!j->m) return -1;
    for (int d = 0; d < j->directions; d++) {
        const float *src = w + (size_t)d * rows * cols;
        float *dst = j->m + (size_t)d * j->k * j->ldm;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                if (transpose) dst[(size_t)c * j->ldm + r] = src[(size_t)r * cols + c];
                else dst[(size_t)r * j->ldm + c] = src[(size_t)r * cols + c];
            }
    }
    if (!j->low) return 0;
    /* the same, rounded to bf16 and packed for AMX: [kp / 2, np, 2], element (k, n) at (k / 2, n, k % 2) */
    j->kp = pad(j->k);
    j->np = pad(j->n);
    j->m_low = calloc((size_t)j->directions * j->kp * j->np, sizeof(uint16_t));
    if (!j->m_low) return -1;
    for (int d = 0; d < j->directions; d++)
        for (int k = 0; k < j->k; k++)
            for (int n = 0; n < j->n; n++)
                j->m_low[(size_t)d * j->kp * j->np + ((size_t)(k / 2) * j->np + n) * 2 + k % 2] =
                    to_bf16(j->m[((size_t)d * j->k + k) * j->ldm + n]);
    return 0;
}

static int run(job *j, const float *w_hh, int transpose, int threads) {
    if (j->batch == 0) return 0;
    j->zeros = calloc((size_t)j->hidden, sizeof(float));
    if (!j->zeros || prepare_weights(j, w_hh, j->gate_size, j->hidden, transpose)) {
        free((void *)j->zeros);
        free(j->m);
        return -1;
    }
    int blocks = threads / j->directions;
    int most = (j->batch + 7) / 8; /* at least 8 rows per block, so that tiles stay full */
    j->blocks = blocks < 1 ? 1 : blocks > most ? most : blocks;
    j->items = j->directions * j->blocks;
    j->serial = !(threads > 1 && j->items > 1 && pool_ready());
    if (j->serial)
        run_items(j);
    else
        gomp_parallel(run_items, j, (unsigned)(threads < j->items ? threads : j->items), 0);
    free(j->m);
    free(j->m_low);
    free((void *)j->zeros);
    return j->failed ? -1 : 0;
}

#define JOB(cell, gates_per_unit)            \
    job j = {0};                             \
    j.batch = B;                             \
    j.low = low;                             \
    j.steps = T;                             \
    j.directions = D;                        \
    j.hidden = H;                            \
    j.gate_size = (gates_per_unit) * (H);    \
    j.lengths = lengths;                     \
    j.order = order;                         \
    j.body = cell

/* Buffers are [T, B, D, width] (outputs [T, B, D * H]); w_hh is [D, gates * H, H] in the cell's gate order,
 * bias [D, gates * H] the input-side biases (python_loops.py: input_bias) that forward adds to the gates.
 * lengths: real steps per row (1..T); order: the rows by length, longest first. Padded steps are not
 * touched (the caller zeroes them). low: the per-step products in bf16 on AMX tiles, only where
 * rnnlab_amx_init() said yes. With bf16 big products (under autocast), forward reads the input projections
 * from proj_low (bf16, like gates; gates then receives them step by step) and writes the outputs in bf16 to
 * out_low too, and backward writes the gate gradients to grads_low (bf16; grads then unused); else all three
 * are NULL. Backward also adds each row's gate gradients over its steps into sums [D, B, width of a gradient
 * row] (zeroed by the caller): the bias gradients before the sum over rows. g [T, B, D, H] holds
 * dL/d(outputs) and receives dL/dh_prev step by step; with fresh, it holds only the last states' gradients,
 * at each row's last step (its other entries unset). Initial states h0 (and c0) are [D, B, H], read before
 * step 0 (time 0 forward, each row's last real step backward), NULL for zeros; backward then writes dL/dh0
 * into dh0 (zeroed by the caller, or NULL: not wanted). LSTM backward's carry [D, B, H] holds dL/d(c_n) on
 * entry (zeros for none) and dL/dc0 on return. Every function returns 0, or -1 if memory ran out. */
#define DIMS int B, int T, int D, int H, int low, const int *lengths, const int *order

int rnnlab_rnn_forward(DIMS, float *pre, const uint16_t *proj_low, float *out, uint16_t *out_low, const float *w_hh,
                       const float *bias, const float *h0, int threads) {
    JOB(rnn_forward, 1);
    j.h0 = h0;
    j.bias = bias;
    j.gates = pre;
    j.proj_low = proj_low;
    j.out = out;
    j.out_low = out_low;
    return run(&j, w_hh, 1, threads);
}

int rnnlab_rnn_backward(DIMS, const float *out, float *g, float *dpre, uint16_t *grads_low, float *sums,
                        const float *w_hh, float *dh0, int fresh, int threads) {
    JOB(rnn_backward, 1);
    j.dh0 = dh0;
    j.fresh = fresh;
    j.out = (float *)out;
    j.g = g;
    j.grads = dpre;
    j.grads_low = grads_low;
    j.sums = sums;
    return run(&j, w_hh, 0, threads);
}

int rnnlab_gru_forward(DIMS, float *gates, const uint16_t *proj_low, float *gh, float *out, uint16_t *out_low,
                       const float *w_hh, const float *bias, const float *b_hn, const float *h0, int threads) {
    JOB(gru_forward, 3);
    j.h0 = h0;
    j.bias = bias;
    j.gates = gates;
    j.proj_low = proj_low;
    j.gh = gh;
    j.out = out;
    j.out_low = out_low;
    j.b_hn = b_hn;
    return run(&j, w_hh, 1, threads);
}

int rnnlab_gru_backward(DIMS, const float *gates, const float *gh, const float *out, float *g, float *grads,
                        uint16_t *grads_low, float *sums, const float *w_hh, float *dh0, int fresh, int threads) {
    JOB(gru_backward, 3);
    j.dh0 = dh0;
    j.fresh = fresh;
    j.gates = (float *)gates;
    j.gh = (float *)gh;
    j.out = (float *)out;
    j.g = g;
    j.grads = grads;
    j.grads_low = grads_low;
    j.sums = sums;
    return run(&j, w_hh, 0, threads);
}

int rnnlab_lstm_forward(DIMS, float *gates, const uint16_t *proj_low, float *out, uint16_t *out_low, float *cells,
                        float *tanh_c, const float *w_hh, const float *bias, const float *h0, const float *c0,
                        int threads) {
    JOB(lstm_forward, 4);
    j.h0 = h0;
    j.c0 = c0;
    j.bias = bias;
    j.gates = gates;
    j.proj_low = proj_low;
    j.out = out;
    j.out_low = out_low;
    j.cells = cells;
    j.tanh_c = tanh_c;
    return run(&j, w_hh, 1, threads);
}

int rnnlab_lstm_backward(DIMS, const float *gates, const float *cells, const float *tanh_c, float *g, float *grads,
                         uint16_t *grads_low, float *sums, const float *w_hh, const float *c0, float *dh0, float *carry,
                         int fresh, int threads) {
    JOB(lstm_backward, 4);
    j.c0 = c0;
    j.dh0 = dh0;
    j.carry = carry;
    j.fresh = fresh;
    j.gates = (float *)gates;
    j.cells = (float *)cells;
    j.tanh_c = (float *)tanh_c;
    j.g = g;
    j.grads = grads;
    j.grads_low = grads_low;
    j.sums = sums;
    return run(&j, w_hh, 0, threads);
}

/* ---- the embedding's weight gradient ---- */

typedef struct {
    int n, width, rows, parallel;
    const int64_t *index;
    int64_t skip;
    const float *grad;
    float *out;
} scatter;

/* Each thread owns a range of table rows, zeroes them and scans every index for its own, so rows gather
 * their gradients in index order (as torch's loop does) with no atomics, whatever the thread count. */
static void scatter_rows(void *arg) {
    const scatter *a = arg;
    int me = a->parallel ? omp_thread_num() : 0, team = a->parallel ? omp_num_threads() : 1;
    int64_t first = (int64_t)a->rows * me / team, last = (int64_t)a->rows * (me + 1) / team;
    memset(a->out + (size_t)first * a->width, 0, (size_t)(last - first) * a->width * sizeof(float));
    for (int i = 0; i < a->n; i++) {
        int64_t r = a->index[i];
        if (r < first || r >= last || r == a->skip) continue;
        const float *src = a->grad + (size_t)i * a->width;
        float *dst = a->out + (size_t)r * a->width;
        COLUMNS(a->width) ST(dst + c, LD(dst + c) + LD(src + c));
    }
}

/* out[r] = sum of grad[i] over i < n with index[i] == r, zero for r == skip (the padding row): out [rows,
 * width], grad [n, width], indices in [0, rows) (checked by the forward lookup). */
void rnnlab_embedding_backward(int n, int width, const int64_t *index, int64_t skip, const float *grad, int rows,
                               float *out, int threads) {
    scatter a = {n, width, rows, threads > 1 && pool_ready(), index, skip, grad, out};
    if (a.parallel) {
        gomp_parallel(scatter_rows, &a, (unsigned)threads, 0);
    } else {
        scatter_rows(&a);
    }
}
