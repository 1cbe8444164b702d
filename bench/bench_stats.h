// Latency figures for the benchmarks: percentiles over recorded samples.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace berth::bench {

struct Samples {
  std::vector<double> micros;

  void add(std::chrono::steady_clock::duration d) {
    micros.push_back(std::chrono::duration<double, std::micro>(d).count());
  }
  double percentile(double p) {
    if (micros.empty()) return 0;
    std::sort(micros.begin(), micros.end());
    size_t i = std::min(micros.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(micros.size())));
    return micros[i];
  }
  double mean() const {
    double s = 0;
    for (double m : micros) s += m;
    return micros.empty() ? 0 : s / static_cast<double>(micros.size());
  }
};

inline void printRow(const std::string& what, double p50, double p99, double perSecond) {
  std::printf("%-44s %10.1f %10.1f %12.0f\n", what.c_str(), p50, p99, perSecond);
}

inline void printHeader() { std::printf("%-44s %10s %10s %12s\n", "what", "p50 us", "p99 us", "per second"); }

}  // namespace berth::bench
