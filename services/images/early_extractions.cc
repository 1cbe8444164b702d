#include "services/images/early_extractions.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>

#include "common/files.h"

namespace berth::images {

bool looksLikeLayer(const std::string& name, const std::string& path) {
  if (name == "layer.tar" || (name.size() > 10 && name.compare(name.size() - 10, 10, "/layer.tar") == 0)) return true;
  if (name.rfind("blobs/sha256/", 0) != 0) return false;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  unsigned char head[512];
  ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b) return true;
  return n == 512 && std::memcmp(head + 257, "ustar", 5) == 0;
}

EarlyExtractions::EarlyExtractions(std::string workDir, size_t threads)
    : workDir_(std::move(workDir)), maxThreads_(std::max<size_t>(1, threads)) {}

EarlyExtractions::~EarlyExtractions() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& [file, job] : jobs_) job->cancel = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

void EarlyExtractions::submit(const std::string& file) {
  std::lock_guard lock(mutex_);
  if (jobs_.count(file)) return;
  auto job = std::make_unique<Job>();
  job->file = file;
  job->dir = workDir_ + "/early-" + std::to_string(jobs_.size());
  queue_.push_back(job.get());
  jobs_[file] = std::move(job);
  if (threads_.size() < maxThreads_) {
    threads_.emplace_back([this] { work(); });
  }
  changed_.notify_one();
}

void EarlyExtractions::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    Job* job = queue_.front();
    queue_.pop_front();
    if (job->cancel) {
      job->done = true;
      changed_.notify_all();
      continue;
    }
    job->started = true;
    lock.unlock();
    Done result{job->dir, {}, {}};
    try {
      makeDirectories(job->dir + "/diff", 0755);
      result.layer = extractLayer(job->file, job->dir + "/diff", job->dir + ".tar", &job->cancel);
    } catch (const std::exception& e) {
      result.error = e.what();
    }
    lock.lock();
    job->result = std::move(result);
    job->done = true;
    changed_.notify_all();
  }
}

void EarlyExtractions::keepOnly(const std::set<std::string>& needed) {
  std::lock_guard lock(mutex_);
  for (auto& [file, job] : jobs_) {
    if (!needed.count(file)) job->cancel = true;
  }
}

std::optional<EarlyExtractions::Done> EarlyExtractions::take(const std::string& file) {
  std::unique_lock lock(mutex_);
  auto it = jobs_.find(file);
  if (it == jobs_.end() || it->second->taken) return std::nullopt;
  Job& job = *it->second;
  changed_.wait(lock, [&] { return job.done; });
  // Two layers of one image can be one file (an OCI blob): whoever waited second extracts its own.
  if (job.cancel || job.taken) return std::nullopt;
  job.taken = true;
  return std::move(job.result);
}

size_t EarlyExtractions::submitted() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

}  // namespace berth::images
