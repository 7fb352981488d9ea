// Growable, uninitialised memory buffers for decoded bytes and column values.
// std::vector would zero-fill on resize; these do not, and `Extend<T>(n)` hands out room for
// n values with one capacity check, so inner decode loops write straight to memory.
#ifndef LIRANK_AVRO_BUFFER_H_
#define LIRANK_AVRO_BUFFER_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

namespace lirank {
namespace avro {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  ByteBuffer(ByteBuffer&&) = default;
  ByteBuffer& operator=(ByteBuffer&&) = default;

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

  // Makes room for `capacity` bytes, keeping the first size() bytes.
  void Reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    std::unique_ptr<uint8_t[]> grown(new uint8_t[capacity]);
    if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_);
    data_ = std::move(grown);
    capacity_ = capacity;
  }
  void Resize(size_t size) {
    Reserve(size);
    size_ = size;
  }
  void Clear() { size_ = 0; }
  // Frees the memory.
  void Release() {
    data_.reset();
    size_ = capacity_ = 0;
  }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// A typed column of trivially copyable values (numbers, bools, string views).
template <typename T>
class Column {
  static_assert(std::is_trivially_copyable<T>::value, "Column holds trivially copyable values");

 public:
  Column() = default;
  Column(Column&&) = default;
  Column& operator=(Column&&) = default;

  const T* data() const { return data_.get(); }
  T* data() { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const T& operator[](size_t i) const { return data_[i]; }
  const T& back() const { return data_[size_ - 1]; }

  void Reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    std::unique_ptr<T[]> grown(new T[capacity]);
    if (size_ > 0) std::memcpy(grown.get(), data_.get(), size_ * sizeof(T));
    data_ = std::move(grown);
    capacity_ = capacity;
  }
  // Room for `n` more values; the caller writes all n of them.
  T* Extend(size_t n) {
    if (size_ + n > capacity_) Reserve(std::max<size_t>(size_ + n, capacity_ * 2 + 16));
    T* out = data_.get() + size_;
    size_ += n;
    return out;
  }
  void Push(const T& value) { *Extend(1) = value; }
  void Truncate(size_t size) { size_ = size; }
  void Clear() { size_ = 0; }

 private:
  std::unique_ptr<T[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace avro
}  // namespace lirank

#endif  // LIRANK_AVRO_BUFFER_H_
