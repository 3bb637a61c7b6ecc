#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <ctype.h>
// usage: lines "a\tb" -> output redis-like result of a+b
static int s2ld(const char *s, size_t slen, long double *dp) {
    char buf[5120]; long double value; char *eptr;
    if (slen == 0 || slen >= sizeof(buf)) return 0;
    memcpy(buf,s,slen); buf[slen]='\0';
    errno=0; value=strtold(buf,&eptr);
    if (isspace(buf[0]) || eptr[0] != '\0' || ((errno==ERANGE)&&(value==HUGE_VAL||value==-HUGE_VAL||fpclassify(value)==FP_ZERO)) || errno==EINVAL || isnan(value)) return 0;
    *dp=value; return 1;
}
int main(){ char line[20000];
 while(fgets(line,sizeof line,stdin)){ size_t n=strlen(line); if(n&&line[n-1]=='\n') line[--n]=0;
  char *tab=strchr(line,'\t'); if(!tab){continue;} *tab=0; char*a=line,*b=tab+1;
  long double x,y; if(!s2ld(a,strlen(a),&x)||!s2ld(b,strlen(b),&y)){puts("ERR float");continue;}
  x+=y; if(isnan(x)||isinf(x)){puts("ERR naninf");continue;}
  char buf[5200]; int l=snprintf(buf,sizeof buf,"%.17Lf",x);
  if(strchr(buf,'.')){char*p=buf+l-1; while(*p=='0'){p--;l--;} if(*p=='.')l--;}
  if(l==2&&buf[0]=='-'&&buf[1]=='0'){buf[0]='0';l=1;}
  buf[l]=0; puts(buf);
 }}
