package io.medfuse.testkit;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.apache.avro.JsonProperties;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

import io.medfuse.events.ImagingRequest;
import io.medfuse.events.serde.ConfluentAvroCodec;

/**
 * ImagingRequest as a newer producer writes it: the same fields plus an optional {@code sentBy}. Its schema id is
 * new to a running worker, so reading it needs the registry: the soak's registry outage and the tests of it use it.
 */
public final class NewerRequestSchema {

    private NewerRequestSchema() {
    }

    public static Schema schema() {
        Schema current = ImagingRequest.getClassSchema();
        List<Schema.Field> fields = new ArrayList<>();
        for (Schema.Field f : current.getFields()) {
            fields.add(new Schema.Field(f, f.schema()));
        }
        fields.add(new Schema.Field("sentBy", Schema.createUnion(Schema.create(Schema.Type.NULL),
                Schema.create(Schema.Type.STRING)), "who sent it", JsonProperties.NULL_VALUE));
        return Schema.createRecord(current.getName(), current.getDoc(), current.getNamespace(), false, fields);
    }

    /** The request in wire format, written with {@link #schema()} registered as {@code id}. */
    public static byte[] encode(ConfluentAvroCodec<ImagingRequest> codec, String topic, int id, ImagingRequest r) {
        byte[] current = codec.encode(topic, r);
        try {
            GenericRecord old = new GenericDatumReader<GenericRecord>(ImagingRequest.getClassSchema()).read(null,
                    DecoderFactory.get().binaryDecoder(current, 5, current.length - 5, null));
            Schema writer = schema();
            GenericData.Record newer = new GenericData.Record(writer);
            for (Schema.Field f : ImagingRequest.getClassSchema().getFields()) {
                newer.put(f.name(), old.get(f.name()));
            }
            newer.put("sentBy", "pacs-2");
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.write(ByteBuffer.allocate(5).put((byte) 0).putInt(id).array());
            BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
            new GenericDatumWriter<GenericRecord>(writer).write(newer, encoder);
            encoder.flush();
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
