import { describe, expect, it } from 'vitest';
import { knativeLogFields } from '../../functions/lib/index.js';

describe('log lines under Knative', () => {
  it("carry the Service, Revision and Configuration Knative's runtime contract sets", () => {
    expect(knativeLogFields({ K_SERVICE: 'shifu-rtsp-control', K_REVISION: 'shifu-rtsp-control-00001', K_CONFIGURATION: 'shifu-rtsp-control' })).toEqual({
      kService: 'shifu-rtsp-control',
      kRevision: 'shifu-rtsp-control-00001',
      kConfiguration: 'shifu-rtsp-control',
    });
  });

  it('carry nothing of Knative outside it', () => {
    expect(knativeLogFields({ PORT: '8080', K_SINK: 'http://broker' })).toEqual({});
  });
});
