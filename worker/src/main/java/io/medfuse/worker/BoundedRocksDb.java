package io.medfuse.worker;

import java.util.Map;

import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * Bounds the memory of every RocksDB store of the process together (Kafka Streams' documented pattern): one block
 * cache of {@value #TOTAL_BYTES} bytes that also holds the memtables, index and filter blocks. Without it each
 * segment of each task's window store takes its own 16 MB memtables and 50 MB cache, so memory would grow with the
 * number of partitions. The cache and the write buffer manager are shared by design (one per process) and live as
 * long as the process.
 */
public final class BoundedRocksDb implements RocksDBConfigSetter {

    static final long TOTAL_BYTES = 48L * 1024 * 1024;
    static final long MEMTABLE_BYTES = 16L * 1024 * 1024;

    private static final Cache CACHE = new LRUCache(TOTAL_BYTES, -1, false, 0.1);
    private static final WriteBufferManager WRITE_BUFFERS = new WriteBufferManager(MEMTABLE_BYTES, CACHE);

    @Override
    public void setConfig(String storeName, Options options, Map<String, Object> configs) {
        BlockBasedTableConfig table = (BlockBasedTableConfig) options.tableFormatConfig();
        table.setBlockCache(CACHE);
        table.setCacheIndexAndFilterBlocks(true);
        table.setCacheIndexAndFilterBlocksWithHighPriority(true);
        table.setPinTopLevelIndexAndFilter(true);
        options.setWriteBufferManager(WRITE_BUFFERS);
        options.setWriteBufferSize(4L * 1024 * 1024);
        options.setMaxWriteBufferNumber(2);
        options.setTableFormatConfig(table);
    }

    @Override
    public void close(String storeName, Options options) {
        // the cache and the write buffer manager are shared by every store: not closed per store
    }
}
