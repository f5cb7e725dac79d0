// hg::data::face_cache: an in-memory, thread-safe LRU cache of decoded faces keyed by the face's
// index in its dataset, bounded by a byte budget (the bytes of the faces' tensors). Inserting past
// the budget evicts the least recently used faces; a face larger than the whole budget is not kept.
// Entries are shared_ptr<const face>, so an evicted face stays valid for whoever still holds it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "hourglass/core/tensor.hpp"

namespace hg::data {

/// One face at the training size: colour [S, S, 3] and, when it has one, a mask [S, S, 1] (or
/// [S, S, 3]: face, eye and mouth regions, for a dataset with region masks).
struct face {
    tensor rgb;
    tensor mask;  ///< undefined when the face has no mask; 1 or 3 channels
    bool has_mask() const { return mask.defined(); }
    std::size_t bytes() const { return rgb.bytes() + (mask.defined() ? mask.bytes() : 0); }
};

class face_cache {
public:
    struct stats {
        std::size_t bytes = 0;    ///< bytes held now (never above the budget)
        std::size_t entries = 0;  ///< faces held now
        std::uint64_t hits = 0;
        std::uint64_t misses = 0;
        std::uint64_t evictions = 0;
    };

    explicit face_cache(std::size_t budget_bytes = 0) : budget_(budget_bytes) {}

    std::size_t budget() const { return budget_; }

    /// The cached face, or nullptr (counted as a miss). A hit makes the face the most recent.
    std::shared_ptr<const face> find(std::int64_t key) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = index_.find(key);
        if (it == index_.end()) {
            ++stats_.misses;
            return nullptr;
        }
        ++stats_.hits;
        order_.splice(order_.begin(), order_, it->second);
        return it->second->value;
    }

    /// Inserts (or replaces) a face, evicting the least recently used ones to stay within budget.
    /// Returns false when the face alone exceeds the budget and was not kept.
    bool insert(std::int64_t key, std::shared_ptr<const face> value) {
        const std::size_t bytes = value ? value->bytes() : 0;
        std::lock_guard<std::mutex> lock(mutex_);
        erase_locked(key);
        if (!value || bytes > budget_) return false;
        while (stats_.bytes + bytes > budget_ && !order_.empty()) {
            erase_locked(order_.back().key);
            ++stats_.evictions;
        }
        order_.push_front(entry{key, std::move(value), bytes});
        index_[key] = order_.begin();
        stats_.bytes += bytes;
        stats_.entries = order_.size();
        return true;
    }

    bool contains(std::int64_t key) const {
        std::lock_guard<std::mutex> lock(mutex_);
        return index_.count(key) != 0;
    }

    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        order_.clear();
        index_.clear();
        stats_.bytes = 0;
        stats_.entries = 0;
    }

    stats statistics() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return stats_;
    }

private:
    struct entry {
        std::int64_t key;
        std::shared_ptr<const face> value;
        std::size_t bytes;
    };

    void erase_locked(std::int64_t key) {
        auto it = index_.find(key);
        if (it == index_.end()) return;
        stats_.bytes -= it->second->bytes;
        order_.erase(it->second);
        index_.erase(it);
        stats_.entries = order_.size();
    }

    std::size_t budget_;
    mutable std::mutex mutex_;
    std::list<entry> order_;  // most recent first
    std::unordered_map<std::int64_t, std::list<entry>::iterator> index_;
    stats stats_;
};

}  // namespace hg::data
