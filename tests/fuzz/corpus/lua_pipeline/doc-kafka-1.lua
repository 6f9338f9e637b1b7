readings:kafka_sink { topic = "readings", format = "avro",
                      schema = "schemas/reading.avsc", registry = "http://registry:8081" }
-- elsewhere, possibly another pipeline:
p:kafka_source { topic = "readings" }
  :decode { format = "avro", registry = "http://registry:8081" }
