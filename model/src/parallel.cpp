// The pool behind parallel_for (see parallel.h). One job at a time: the caller publishes
// it and bumps a generation counter; workers wake (a short spin first, since the forward
// issues GEMMs back to back, then a condition variable) and claim chunks under the mutex:
// of the grain, and near the end smaller (a share of what is left), so that no thread
// starts a full chunk while the others have nothing left to do.
// The caller claims chunks too and then waits only for the chunks still running: a
// worker that has not woken yet (on a busy machine it may not get a core for a while)
// claims nothing and holds nobody up.
#include "hooklab/parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hooklab/error.h"

namespace hooklab {

namespace {

thread_local int tl_slot = 0;
thread_local bool tl_inside = false;  // running a chunk: nested parallel_for is a plain loop

class Pool {
public:
    ~Pool() { stop(); }

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    void start(int n) {
        stop();
        stop_ = false;
        // Each worker starts from the generation as it is now, so a job posted before the
        // worker first runs is not missed.
        const unsigned g0 = gen_.load();
        for (int i = 1; i < n; ++i) workers_.emplace_back([this, i, g0] { loop(i, g0); });
    }

    void stop() {
        if (workers_.empty()) return;
        {
            std::lock_guard<std::mutex> l(m_);
            stop_ = true;
            gen_.fetch_add(1);
        }
        wake_.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
    }

    void run(int n, int grain, detail::ChunkFn fn, void* ctx) {
        std::lock_guard<std::mutex> one_job(run_m_);  // two callers at once take turns
        {
            std::lock_guard<std::mutex> l(m_);
            fn_ = fn;
            ctx_ = ctx;
            n_ = n;
            grain_ = grain;
            next_ = 0;
            error_ = nullptr;
            outstanding_.store(n);
            gen_.fetch_add(1);
        }
        wake_.notify_all();
        work();
        spin_while([&] { return outstanding_.load() != 0; });
        if (outstanding_.load() != 0) {
            std::unique_lock<std::mutex> l(m_);
            done_.wait(l, [&] { return outstanding_.load() == 0; });
        }
        if (error_) std::rethrow_exception(error_);
    }

private:
    struct Chunk {
        detail::ChunkFn fn;
        void* ctx;
        int begin, end;
    };

    // Spin this long before sleeping: the forward issues its GEMMs a fraction of a
    // millisecond apart, and waking a sleeping thread (a futex; Atomics.notify in wasm)
    // costs tens of microseconds each time.
    template <class Cond>
    static void spin_while(Cond cond) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(1000);
        for (int i = 1; cond(); ++i) {
            std::this_thread::yield();
            if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return;
        }
    }

    // The job's function and the range are read together, under the lock, so a worker
    // that woke late can only ever take a chunk of the job that is current.
    bool claim(Chunk& c) {
        std::lock_guard<std::mutex> l(m_);
        if (next_ >= n_) return false;
        const int share = std::max(1, (n_ - next_) / (2 * size()));
        c = {fn_, ctx_, next_, std::min(n_, next_ + std::min(grain_, share))};
        next_ = c.end;
        return true;
    }

    void work() {
        tl_inside = true;
        Chunk c;
        while (claim(c)) {
            try {
                c.fn(c.ctx, c.begin, c.end);
            } catch (...) {
                std::lock_guard<std::mutex> l(m_);
                if (!error_) error_ = std::current_exception();
            }
            if (outstanding_.fetch_sub(c.end - c.begin) == c.end - c.begin) {
                std::lock_guard<std::mutex> l(m_);
                done_.notify_all();
            }
        }
        tl_inside = false;
    }

    void loop(int slot, unsigned seen) {
        tl_slot = slot;
        for (;;) {
            spin_while([&] { return gen_.load() == seen; });
            if (gen_.load() == seen) {
                std::unique_lock<std::mutex> l(m_);
                wake_.wait(l, [&] { return gen_.load() != seen; });
            }
            seen = gen_.load();
            if (stop_) return;
            work();
        }
    }

    std::vector<std::thread> workers_;
    std::mutex m_, run_m_;
    std::condition_variable wake_, done_;
    std::atomic<unsigned> gen_{0};
    std::atomic<int> outstanding_{0};  // indices of the current job not yet done
    std::atomic<bool> stop_{false};
    // The current job (under m_).
    detail::ChunkFn fn_ = nullptr;
    void* ctx_ = nullptr;
    int n_ = 0, grain_ = 1, next_ = 0;
    std::exception_ptr error_;
};

Pool& pool() {
    static Pool p;
    return p;
}

}  // namespace

void set_threads(int n) {
    if (n < 1 || n > 256) throw Error("threads must be between 1 and 256, got " + std::to_string(n));
    if (n != pool().size()) pool().start(n);
}

int threads() { return pool().size(); }

int default_threads() {
    const unsigned hw = std::thread::hardware_concurrency();
    return static_cast<int>(std::clamp(hw, 1u, 8u));
}

int thread_slot() { return tl_slot; }

namespace detail {

void parallel_run(int n, int grain, ChunkFn fn, void* ctx) {
    if (tl_inside || pool().size() == 1 || n <= grain) {
        for (int b = 0; b < n; b += grain) fn(ctx, b, std::min(n, b + grain));
        return;
    }
    pool().run(n, grain, fn, ctx);
}

}  // namespace detail

}  // namespace hooklab
