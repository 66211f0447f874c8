#include "probe/probe_log.h"

#include <cerrno>
#include <set>

#include "core/status.h"
#include "log/log.h"
#include "probe/number_text.h"

namespace mrd::probe {
namespace {

void appendJsonString(std::string* out, const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out->append("\\u00");
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 0xf]);
        } else {
          out->push_back(c);  // UTF-8 passes through
        }
    }
  }
  out->push_back('"');
}

// {"t_us":..,"rank":..,"peer":..,"path":..,"event":"<event>"
std::string lineHead(uint64_t nowNs, int rank, int peer, int path, const char* event) {
  std::string s = "{\"t_us\":" + std::to_string(nowNs / 1000) +
                  ",\"rank\":" + std::to_string(rank) + ",\"peer\":" + std::to_string(peer) +
                  ",\"path\":" + std::to_string(path) + ",\"event\":";
  appendJsonString(&s, event);
  return s;
}

void appendField(std::string* s, const char* key, double v) {
  s->append(",\"").append(key).append("\":");
  appendFixed(s, v, 1);
}

void appendField(std::string* s, const char* key, const std::string& v) {
  s->append(",\"").append(key).append("\":");
  appendJsonString(s, v);
}

}  // namespace

ProbeLog::ProbeLog(const std::string& path, uint64_t sampleIntervalUs)
    : path_(path), intervalNs_(sampleIntervalUs * 1000) {
  file_ = std::fopen(path.c_str(), "ae");  // append, O_CLOEXEC
  if (file_ == nullptr) {
    openError_ = errnoText("open " + path, errno);
    return;
  }
  std::setvbuf(file_, nullptr, _IOLBF, 0);
}

ProbeLog::~ProbeLog() {
  if (file_ != nullptr) std::fclose(file_);
}

std::string ProbeLog::expandPattern(const std::string& pattern, int rank) {
  std::string s = pattern;
  std::string r = std::to_string(rank);
  for (size_t pos = 0; (pos = s.find("%r", pos)) != std::string::npos; pos += r.size()) {
    s.replace(pos, 2, r);
  }
  return log::expandPath(s);
}

std::shared_ptr<ProbeLog> ProbeLog::forProcess(const std::string& pattern, int rank,
                                               uint64_t sampleIntervalUs) {
  if (pattern.empty()) return nullptr;
  // Process-wide so that ranks sharing a file share one FILE and one mutex.
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<ProbeLog>> open;
  static std::set<std::string> warned;
  std::string path = expandPattern(pattern, rank);
  std::lock_guard<std::mutex> lock(mu);
  if (auto existing = open[path].lock()) return existing;
  auto created = std::make_shared<ProbeLog>(path, sampleIntervalUs);
  if (!created->isOpen()) {
    open.erase(path);
    if (warned.insert(path).second) {
      MRD_LOG_WARN(kProbe, "MRD_PROBE_LOG: {}; going on without a probe log",
                   created->openError());
    }
    return nullptr;
  }
  open[path] = created;
  return created;
}

bool ProbeLog::sample(uint64_t nowNs, int rank, int peer, int path, const PathHealth& health,
                      const PathTraffic* traffic) {
  if (file_ == nullptr) return false;
  const int channel = traffic != nullptr ? traffic->channel : 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, first] = lastSampleNs_.try_emplace(std::make_tuple(rank, peer, channel, path), nowNs);
    if (!first) {
      if (nowNs < it->second || nowNs - it->second < intervalNs_) return false;
      it->second = nowNs;
    }
  }
  std::string s = lineHead(nowNs, rank, peer, path, "sample");
  appendField(&s, "state", std::string(pathStateName(health.state())));
  appendField(&s, "rtt_us", health.lastRttUs());
  appendField(&s, "rtt_ewma_us", health.rttEwmaUs());
  appendField(&s, "base_rtt_us", health.baseRttUs());
  s.append(",\"samples\":").append(std::to_string(health.samples()));
  appendField(&s, "net_rtt_ewma_us", health.netRttEwmaUs());
  appendField(&s, "goodput_MBps", health.goodputBps() / 1e6);
  appendField(&s, "capacity_MBps", health.capacityBps() / 1e6);
  if (traffic != nullptr) {
    s.append(",\"channel\":").append(std::to_string(traffic->channel));
    s.append(",\"rail\":").append(std::to_string(traffic->rail));
    s.append(",\"sent_bytes\":").append(std::to_string(traffic->bytesSent));
    s.append(",\"queued_bytes\":").append(std::to_string(traffic->queuedBytes));
  }
  s.append("}\n");
  writeLine(s);
  return true;
}

void ProbeLog::transition(uint64_t nowNs, int rank, int peer, int path, const Transition& t) {
  if (file_ == nullptr) return;
  std::string s = lineHead(nowNs, rank, peer, path, "state");
  appendField(&s, "from", std::string(pathStateName(t.from)));
  appendField(&s, "to", std::string(pathStateName(t.to)));
  appendField(&s, "reason", t.reason);
  s.append("}\n");
  writeLine(s);
}

void ProbeLog::writeLine(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), file_);
}

}  // namespace mrd::probe
