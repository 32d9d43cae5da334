/**
 * Least privilege for the database backup job: list, upload (including multipart) and read
 * back (restore) objects in the backups bucket, nothing else. No delete: old backups go by the
 * lifecycle rule, so a leaked writer key cannot wipe the history it writes to.
 * MinIO reads the same IAM policy language, so one document serves both providers.
 */
export interface PolicyStatement {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: string[];
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

export function backupWriterPolicy(bucketName: string): PolicyDocument {
  const bucketArn = `arn:aws:s3:::${bucketName}`;
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ListBackups",
        Effect: "Allow",
        Action: ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"],
        Resource: [bucketArn],
      },
      {
        Sid: "WriteAndRestoreBackups",
        Effect: "Allow",
        Action: ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
        Resource: [`${bucketArn}/*`],
      },
    ],
  };
}

export function renderBackupWriterPolicy(bucketName: string): string {
  return `${JSON.stringify(backupWriterPolicy(bucketName), null, 2)}\n`;
}
