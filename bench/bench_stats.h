// Figures for the benchmarks: percentiles over recorded samples, and the record of failed
// samples. A benchmark never prints a figure it did not measure: a percentile of no samples
// throws, and a benchmark with any failure prints the failures and exits non-zero instead of
// its table.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace berth::bench {

struct Samples {
  std::string what;  // named in the error when a figure is asked of no samples
  std::vector<double> micros;

  void add(std::chrono::steady_clock::duration d) {
    micros.push_back(std::chrono::duration<double, std::micro>(d).count());
  }
  double percentile(double p) {
    if (micros.empty()) throw std::runtime_error("no samples for " + (what.empty() ? std::string("a figure") : what));
    std::sort(micros.begin(), micros.end());
    size_t i = std::min(micros.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(micros.size())));
    return micros[i];
  }
  double mean() const {
    if (micros.empty()) throw std::runtime_error("no samples for " + (what.empty() ? std::string("a figure") : what));
    double s = 0;
    for (double m : micros) s += m;
    return s / static_cast<double>(micros.size());
  }
};

// Failed samples, from any thread. A benchmark checks `any()` before it prints figures.
class Failures {
 public:
  void add(const std::string& what) {
    std::lock_guard lock(mutex_);
    list_.push_back(what);
  }
  bool any() const {
    std::lock_guard lock(mutex_);
    return !list_.empty();
  }
  // Prints every failure to stderr; returns the exit status the benchmark should end with.
  int report(const char* benchmark) const {
    std::lock_guard lock(mutex_);
    if (list_.empty()) return 0;
    std::fprintf(stderr, "%s: %zu failed sample(s); no figures printed for this run:\n", benchmark, list_.size());
    for (const auto& f : list_) std::fprintf(stderr, "  FAILED: %s\n", f.c_str());
    return 1;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> list_;
};

inline void printRow(const std::string& what, double p50, double p99, double perSecond) {
  std::printf("%-44s %10.1f %10.1f %12.0f\n", what.c_str(), p50, p99, perSecond);
}

inline void printHeader() { std::printf("%-44s %10s %10s %12s\n", "what", "p50 us", "p99 us", "per second"); }

}  // namespace berth::bench
